package wizard

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/configtool"
)

// Titles and introductions of the steps, by field group.
var (
	stepTitles = map[string]string{
		configtool.GroupServer:   "Server and TLS",
		configtool.GroupDatabase: "Database",
		configtool.GroupRedis:    "Redis",
		configtool.GroupStorage:  "Storage and replication",
		configtool.GroupAuth:     "Authentication",
		configtool.GroupFeatures: "Features",
		configtool.GroupMail:     "Mail",
		configtool.GroupScanner:  "Security scanner",
	}
	stepIntros = map[string]string{
		configtool.GroupServer:   "Where clients reach the registry, and how it serves TLS: with its own certificate (ssl.cert and ssl.key), one from an ACME authority, or behind a proxy that ends TLS.",
		configtool.GroupDatabase: "The metadata database: PostgreSQL for production and several nodes, or the embedded SQLite for one node (leave DB_URI empty to keep it in the data directory).",
		configtool.GroupRedis:    "Redis coordinates nodes and carries build logs and user events. A single node runs without it: leave the hosts empty.",
		configtool.GroupStorage:  "Where blobs live. Each location is a driver with its parameters; pushes go to the first location of DISTRIBUTED_STORAGE_PREFERENCE.",
		configtool.GroupAuth:     "Where users and passwords live: Wharf's database, an LDAP directory, or an OpenID Connect provider.",
		configtool.GroupFeatures: "What the registry offers and how it behaves. The defaults suit most sites.",
		configtool.GroupMail:     "The SMTP server Wharf sends e-mail through, when FEATURE_MAILING is on.",
		configtool.GroupScanner:  "Vulnerability scanning of pushed images, with the built-in scanner or a Clair v4 compatible one.",
	}
)

// maxCertBytes bounds an uploaded certificate or key.
const maxCertBytes = 1 << 20

// parseInput reads what a person entered for a field. nil means "not set": the key is
// removed and takes its default. A value that is not of the field's type is passed on as
// text, so that the schema says what is wrong with it, as `wharf config validate` would.
func parseInput(f *field, text string) (any, error) {
	trimmed := strings.TrimSpace(text)
	switch f.Kind {
	case kindBool:
		return text != "", nil
	case kindTriBool:
		switch trimmed {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, nil
	case kindSecret:
		if text == "" {
			return nil, nil
		}
		return text, nil
	case kindInt, kindIntOrStr:
		if trimmed == "" {
			return nil, nil
		}
		if _, err := strconv.ParseInt(trimmed, 10, 64); err == nil {
			return json.Number(trimmed), nil
		}
		return trimmed, nil
	case kindNumber:
		if trimmed == "" {
			return nil, nil
		}
		if n, err := strconv.ParseFloat(trimmed, 64); err == nil {
			return json.Number(strconv.FormatFloat(n, 'f', -1, 64)), nil
		}
		return trimmed, nil
	case kindList:
		var items []any
		for _, line := range strings.Split(text, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				items = append(items, line)
			}
		}
		if len(items) == 0 {
			return nil, nil
		}
		return items, nil
	case kindYAML:
		if trimmed == "" {
			return nil, nil
		}
		return parseYAMLValue(text)
	}
	if trimmed == "" {
		return nil, nil
	}
	return trimmed, nil
}

// applyValue reads one field from the form into m[key]. A field missing from the form is
// left alone, except a checkbox, which a browser leaves out when it is off.
func applyValue(m map[string]any, key string, f *field, form url.Values, step bool, errs, raw map[string]string) {
	id := fieldID(f.Path)
	text, present := form[f.Path]
	if !present && (f.Kind != kindBool || !step) {
		return
	}
	var first string
	if len(text) > 0 {
		first = text[0]
	}
	v, err := parseInput(f, first)
	if err != nil {
		errs[id], raw[id] = err.Error(), first
		return
	}
	assign(m, key, v, f)
}

// applyStep reads a step's form into the session and returns what could not be read, by
// field id.
func (wz *Wizard) applyStep(sess *session, step string, r *http.Request) map[string]string {
	form := r.PostForm
	whole := form.Get("_step") == step // the form holds every field of the step
	errs, raw := map[string]string{}, map[string]string{}
	for _, f := range wz.cat.fields[step] {
		switch f.Kind {
		case kindStorage:
			wz.applyStorage(sess, f, form, errs)
		case kindFile:
			applyFile(sess, f, r, errs)
		case kindCAFiles:
			applyCAFiles(sess, r, errs)
		case kindLogin:
			wz.applyKeys(sess, "login_configs", "f-login-configs", form, errs, raw, func(k string) string {
				if !loginKey.MatchString(k) {
					return k + ": a login provider's key ends in _LOGIN_CONFIG, e.g. OIDC_LOGIN_CONFIG."
				}
				return ""
			}, func(k string) bool { return loginKey.MatchString(k) })
		case kindOther:
			wz.applyKeys(sess, "other_keys", "f-other-keys", form, errs, raw, func(k string) string {
				if wz.cat.known[k] {
					return k + " has a field of its own on the " + stepTitles[configtool.GroupOf(k)] + " step: set it there."
				}
				if loginKey.MatchString(k) {
					return k + " is a login provider: set it on the Authentication step."
				}
				return ""
			}, wz.unknownKey)
		case kindObject:
			old, _ := sess.doc[f.Path].(map[string]any)
			obj := map[string]any{}
			for _, c := range f.Children {
				if v, ok := old[c.Key]; ok {
					obj[c.Key] = v
				}
			}
			for _, c := range f.Children {
				applyValue(obj, c.Key, c, form, whole, errs, raw)
			}
			if _, was := sess.doc[f.Path]; len(obj) == 0 && !was {
				continue
			}
			sess.doc[f.Path] = obj
		default:
			applyValue(sess.doc, f.Path, f, form, whole, errs, raw)
		}
	}
	sess.inputErrs[step], sess.raw[step] = errs, raw
	return errs
}

// applyKeys reads a YAML mapping of whole keys (login providers, unknown keys) from a text
// area: the keys keep selects are replaced by the mapping's.
func (wz *Wizard) applyKeys(sess *session, name, id string, form url.Values, errs, raw map[string]string, check func(string) string, keep func(string) bool) {
	text, present := form[name]
	if !present {
		return
	}
	v, err := parseYAMLValue(text[0])
	if err != nil {
		errs[id], raw[id] = err.Error(), text[0]
		return
	}
	m, ok := v.(map[string]any)
	if v != nil && !ok {
		errs[id], raw[id] = "Write a mapping: KEY: followed by its settings, indented.", text[0]
		return
	}
	for k := range m {
		if msg := check(k); msg != "" {
			errs[id], raw[id] = msg, text[0]
			return
		}
	}
	for k := range sess.doc {
		if keep(k) {
			delete(sess.doc, k)
		}
	}
	for k, val := range m {
		sess.doc[k] = val
	}
}

// uploaded returns the files sent in a form field (browsers send an empty part for a file
// input left empty; it is skipped).
func uploaded(r *http.Request, name string) []*multipart.FileHeader {
	if r.MultipartForm == nil {
		return nil
	}
	var out []*multipart.FileHeader
	for _, fh := range r.MultipartForm.File[name] {
		if fh.Filename != "" || fh.Size > 0 {
			out = append(out, fh)
		}
	}
	return out
}

func readUpload(fh *multipart.FileHeader) ([]byte, error) {
	if fh.Size > maxCertBytes {
		return nil, fmt.Errorf("%s is %d bytes; a certificate or key is at most %d KiB", fh.Filename, fh.Size, maxCertBytes>>10)
	}
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fh.Filename, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCertBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fh.Filename, err)
	}
	if len(b) > maxCertBytes {
		return nil, fmt.Errorf("%s is larger than %d KiB", fh.Filename, maxCertBytes>>10)
	}
	return b, nil
}

// applyFile takes an uploaded ssl.cert or ssl.key, or removes it.
func applyFile(sess *session, f *field, r *http.Request, errs map[string]string) {
	if r.PostForm.Get("remove:"+f.Path) != "" {
		delete(sess.files, f.Path)
	}
	for _, fh := range uploaded(r, f.Path) {
		b, err := readUpload(fh)
		if err != nil {
			errs[fieldID(f.Path)] = err.Error()
			return
		}
		sess.files[f.Path] = b
	}
}

// applyCAFiles adds uploaded extra CA certificates (by their file names) and removes those
// ticked for removal.
func applyCAFiles(sess *session, r *http.Request, errs map[string]string) {
	for k := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "remove:"); ok && strings.HasPrefix(name, configtool.ExtraCADir+"/") {
			delete(sess.files, name)
		}
	}
	id := fieldID(configtool.ExtraCADir)
	for _, fh := range uploaded(r, configtool.ExtraCADir) {
		name := configtool.ExtraCADir + "/" + path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
		if err := configtool.CheckFileName(name); err != nil {
			errs[id] = fmt.Sprintf("%s: rename the file (a plain file name, such as ca.crt)", fh.Filename)
			continue
		}
		b, err := readUpload(fh)
		if err != nil {
			errs[id] = err.Error()
			continue
		}
		sess.files[name] = b
	}
}

// stepData is what a step page shows.
type stepData struct {
	Name, Title, Intro string
	Number, Of         int
	Views              []*view
	General            *messages
	Blocked            bool // problems keep the person on the step
	Warn               bool // checks failed; the person may continue anyway
	BackURL, NextLabel string
}

// stepPage shows a step with the problems its values have now (without reaching out to the
// servers it names: that happens on Next).
func (wz *Wizard) stepPage(w http.ResponseWriter, r *http.Request, sess *session) {
	step := r.PathValue("step")
	if stepIndex(step) < 0 {
		http.NotFound(w, r)
		return
	}
	rep, err := wz.validate(r.Context(), sess, true, step)
	if err != nil {
		http.Error(w, "validate: "+err.Error(), http.StatusInternalServerError)
		return
	}
	wz.renderStep(w, http.StatusOK, sess, step, rep, false)
}

// stepPost applies a step's form and moves on: Next checks the step (its problems keep the
// person there; failed checks are shown, with a way to continue anyway), Back and the step
// list move without checking.
func (wz *Wizard) stepPost(w http.ResponseWriter, r *http.Request, sess *session) {
	step := r.PathValue("step")
	i := stepIndex(step)
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	errs := wz.applyStep(sess, step, r)
	switch r.PostFormValue("action") {
	case "back":
		http.Redirect(w, r, stepURL(i-1), http.StatusSeeOther)
		return
	case "add-location":
		sess.blankLocs++
		http.Redirect(w, r, stepURL(i)+"#loc-"+strconv.Itoa(len(wz.storageView(sess, wz.storageField()).Children)-1), http.StatusSeeOther)
		return
	case "continue":
		rep, err := wz.validate(r.Context(), sess, true, step)
		if err != nil {
			http.Error(w, "validate: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if blocking(step, rep, errs) {
			wz.renderStep(w, http.StatusUnprocessableEntity, sess, step, rep, false)
			return
		}
		http.Redirect(w, r, stepURL(i+1), http.StatusSeeOther)
		return
	}
	rep, err := wz.validate(r.Context(), sess, false, step)
	if err != nil {
		http.Error(w, "validate: "+err.Error(), http.StatusInternalServerError)
		return
	}
	switch {
	case blocking(step, rep, errs):
		wz.renderStep(w, http.StatusUnprocessableEntity, sess, step, rep, false)
	case !rep.Reachable():
		wz.renderStep(w, http.StatusOK, sess, step, rep, true)
	default:
		http.Redirect(w, r, stepURL(i+1), http.StatusSeeOther)
	}
}

func (wz *Wizard) storageField() *field {
	for _, f := range wz.cat.fields[configtool.GroupStorage] {
		if f.Kind == kindStorage {
			return f
		}
	}
	return nil
}

func (wz *Wizard) renderStep(w http.ResponseWriter, status int, sess *session, step string, rep *configtool.Report, warn bool) {
	i := stepIndex(step)
	views := wz.stepViews(sess, step)
	gen := wz.place(views, step, rep, sess.inputErrs[step])
	data := wz.page(sess, stepTitles[step], stepURL(i))
	data.Step = &stepData{Name: step, Title: stepTitles[step], Intro: stepIntros[step], Number: i + 1, Of: len(configtool.Groups),
		Views: views, General: gen, Blocked: status == http.StatusUnprocessableEntity, Warn: warn,
		BackURL: stepURL(i - 1), NextLabel: "Next: " + stepTitles[configtool.Groups[min(i+1, len(configtool.Groups)-1)]]}
	if i == len(configtool.Groups)-1 {
		data.Step.NextLabel = "Next: review"
	}
	wz.render(w, status, "step.html", data)
}

// checkResponse is the live check's answer: the messages of each field of the step, by id.
type checkResponse struct {
	Blocked bool                    `json:"blocked"`
	Fields  map[string]jsonMessages `json:"fields"`
	General jsonMessages            `json:"general"`
	Others  []string                `json:"others,omitempty"`
}

type jsonMessages struct {
	Errors  []string `json:"errors,omitempty"`
	Failed  []string `json:"failed,omitempty"`
	Passed  []string `json:"passed,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}

// checkJSON is the live check: it applies the step's form as Next would and answers with the
// problems and check results of each field, for the page's script to show.
func (wz *Wizard) checkJSON(w http.ResponseWriter, r *http.Request, sess *session) {
	step := r.PathValue("step")
	if stepIndex(step) < 0 {
		http.NotFound(w, r)
		return
	}
	errs := wz.applyStep(sess, step, r)
	rep, err := wz.validate(r.Context(), sess, false, step)
	if err != nil {
		http.Error(w, "validate: "+err.Error(), http.StatusInternalServerError)
		return
	}
	views := wz.stepViews(sess, step)
	gen := wz.place(views, step, rep, errs)
	resp := checkResponse{Blocked: blocking(step, rep, errs), Fields: map[string]jsonMessages{},
		General: jsonMessages{Errors: gen.Errors, Failed: gen.Failed, Passed: gen.Passed, Skipped: gen.Skipped}}
	for _, v := range flatten(views) {
		resp.Fields[v.ID] = jsonMessages{Errors: v.Errors, Failed: v.Failed, Passed: v.Passed, Skipped: v.Skipped}
	}
	for _, o := range gen.Others {
		resp.Others = append(resp.Others, o.Title+": "+o.Text)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}
