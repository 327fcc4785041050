package wizard

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/configtool"
)

// pageTemplate is one page: the layout, the field templates and the page's content.
type pageTemplate struct{ t *template.Template }

func (p *pageTemplate) execute(w io.Writer, data *pageData) error {
	return p.t.ExecuteTemplate(w, "layout", data)
}

func parsePages() (map[string]*pageTemplate, error) {
	funcs := template.FuncMap{
		"bytes": func(n int) string {
			if n < 1024 {
				return fmt.Sprintf("%d bytes", n)
			}
			return fmt.Sprintf("%.1f KiB", float64(n)/1024)
		},
	}
	pages := map[string]*pageTemplate{}
	for _, name := range []string{"start.html", "step.html", "review.html"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/fields.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("wizard: parse %s: %w", name, err)
		}
		pages[name] = &pageTemplate{t}
	}
	return pages, nil
}

// pageData is what every page shows: the step list, where the config came from, and the
// session's CSRF token for its forms.
type pageData struct {
	Title     string
	Origin    string
	CSRF      string
	Flash     string
	ConfigDir string
	Nav       []navItem
	Start     *startData
	Step      *stepData
	Review    *reviewData
}

type navItem struct {
	Number       int
	Title, URL   string
	Current, Bad bool
}

// page fills what every page shows; current is the URL of the page, for the step list.
func (wz *Wizard) page(sess *session, title, current string) *pageData {
	d := &pageData{Title: title, Origin: sess.origin, CSRF: sess.csrf, Flash: sess.flash, ConfigDir: wz.opts.ConfigDir}
	sess.flash = ""
	d.Nav = append(d.Nav, navItem{Title: "Start", URL: "/", Current: current == "/"})
	for i, g := range configtool.Groups {
		d.Nav = append(d.Nav, navItem{Number: i + 1, Title: stepTitles[g], URL: stepURL(i), Current: current == stepURL(i)})
	}
	d.Nav = append(d.Nav, navItem{Title: "Review and save", URL: "/review", Current: current == "/review"})
	return d
}

// startData is what the start page shows.
type startData struct {
	UploadError string
	FirstStep   string
	Fresh       string // what starting over starts from
}

func (wz *Wizard) startPage(w http.ResponseWriter, r *http.Request, sess *session) {
	data := wz.page(sess, "Start", "/")
	data.Start = &startData{FirstStep: stepURL(0), Fresh: wz.Origin()}
	wz.render(w, http.StatusOK, "start.html", data)
}

// upload starts the session over from an uploaded config bundle.
func (wz *Wizard) upload(w http.ResponseWriter, r *http.Request, sess *session) {
	fail := func(msg string) {
		data := wz.page(sess, "Start", "/")
		data.Start = &startData{FirstStep: stepURL(0), Fresh: wz.Origin(), UploadError: msg}
		wz.render(w, http.StatusBadRequest, "start.html", data)
	}
	files := uploaded(r, "bundle")
	if len(files) != 1 {
		fail("Choose a config bundle (" + configtool.BundleName + ") to upload.")
		return
	}
	f, err := files[0].Open()
	if err != nil {
		fail("Could not read the upload: " + err.Error())
		return
	}
	defer f.Close()
	src, err := configtool.ReadBundle(f)
	if err != nil {
		fail(files[0].Filename + ": " + err.Error())
		return
	}
	d, err := parseDocument(src.Config())
	if err != nil {
		fail(files[0].Filename + ": " + err.Error())
		return
	}
	delete(src.Files, configtool.ConfigFile)
	names := []string{configtool.ConfigFile}
	for n := range src.Files {
		names = append(names, n)
	}
	sort.Strings(names[1:])
	wz.restart(sess, "uploaded bundle "+path.Base(files[0].Filename), d, src.Files)
	sess.flash = fmt.Sprintf("Loaded %s (%s). Walk through the steps to check and change it, then review and save.", path.Base(files[0].Filename), strings.Join(names, ", "))
	http.Redirect(w, r, stepURL(0), http.StatusSeeOther)
}

// reset starts the session over from the config directory or the defaults.
func (wz *Wizard) reset(w http.ResponseWriter, r *http.Request, sess *session) {
	origin, d, files, err := wz.startingPoint()
	if err != nil {
		http.Error(w, "Could not start over: "+err.Error(), http.StatusInternalServerError)
		return
	}
	delete(files, configtool.ConfigFile)
	wz.restart(sess, origin, d, files)
	sess.flash = "Started over from " + origin + "."
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (wz *Wizard) restart(sess *session, origin string, d map[string]any, files map[string][]byte) {
	sess.origin, sess.doc, sess.files = origin, d, files
	sess.raw, sess.inputErrs = map[string]map[string]string{}, map[string]map[string]string{}
	sess.locRows, sess.blankLocs = nil, 0
}

// reviewData is what the review page shows.
type reviewData struct {
	YAML      string
	Files     []fileView
	Problems  []otherProblem
	Checks    []configtool.Result
	Valid     bool
	Reachable bool
	Failed    int
}

// reviewPage shows the config.yaml the wizard will write and the outcome of a full
// validation, every check included.
func (wz *Wizard) reviewPage(w http.ResponseWriter, r *http.Request, sess *session) {
	rep, err := wz.validate(r.Context(), sess, false)
	if err != nil {
		http.Error(w, "validate: "+err.Error(), http.StatusInternalServerError)
		return
	}
	wz.renderReview(w, http.StatusOK, sess, rep)
}

func (wz *Wizard) renderReview(w http.ResponseWriter, status int, sess *session, rep *configtool.Report) {
	src, err := wz.source(sess)
	if err != nil {
		http.Error(w, "build config.yaml: "+err.Error(), http.StatusInternalServerError)
		return
	}
	rv := &reviewData{YAML: string(src.Config()), Checks: rep.Checks, Valid: rep.Valid(), Reachable: rep.Reachable()}
	names := make([]string, 0, len(src.Files))
	for n := range src.Files {
		if n != configtool.ConfigFile {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		rv.Files = append(rv.Files, fileView{Name: n, Size: len(src.Files[n])})
	}
	for _, c := range rep.Checks {
		if c.Status == configtool.StatusFailed {
			rv.Failed++
		}
	}
	for _, p := range rep.Problems {
		g := configtool.GroupOf(p.Path)
		op := otherProblem{Step: g, Title: stepTitles[g], Text: p.String()}
		if i := stepIndex(g); i >= 0 {
			op.URL = stepURL(i)
			if v := owner(flatten(wz.stepViews(sess, g)), p.Path); v != nil {
				op.URL += "#" + v.ID
			}
		}
		rv.Problems = append(rv.Problems, op)
	}
	data := wz.page(sess, "Review and save", "/review")
	data.Review = rv
	wz.render(w, status, "review.html", data)
}

// finish validates the config for download or save; when it has problems, the review page
// says so and nothing is handed out.
func (wz *Wizard) finish(w http.ResponseWriter, r *http.Request, sess *session) (configtool.Source, bool) {
	rep, err := wz.validate(r.Context(), sess, true)
	if err != nil {
		http.Error(w, "validate: "+err.Error(), http.StatusInternalServerError)
		return configtool.Source{}, false
	}
	if !rep.Valid() {
		sess.flash = "The config has problems (listed below); fix them before downloading or saving it."
		wz.renderReview(w, http.StatusConflict, sess, rep)
		return configtool.Source{}, false
	}
	src, err := wz.source(sess)
	if err != nil {
		http.Error(w, "build config.yaml: "+err.Error(), http.StatusInternalServerError)
		return configtool.Source{}, false
	}
	return src, true
}

// download hands out the config as a config bundle, quay-config.tar.gz.
func (wz *Wizard) download(w http.ResponseWriter, r *http.Request, sess *session) {
	src, ok := wz.finish(w, r, sess)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := configtool.WriteBundle(&buf, src); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+configtool.BundleName+`"`)
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.Write(buf.Bytes())
}

// save writes the config into the config directory, keeping the previous config.yaml as
// config.yaml.bak.
func (wz *Wizard) save(w http.ResponseWriter, r *http.Request, sess *session) {
	if wz.opts.ConfigDir == "" {
		http.Error(w, "The wizard was started without --config-dir: download the bundle instead, or restart it with --config-dir DIR.", http.StatusBadRequest)
		return
	}
	src, ok := wz.finish(w, r, sess)
	if !ok {
		return
	}
	ch, err := configtool.WriteDirReport(wz.opts.ConfigDir, src)
	if err != nil {
		sess.flash = "Saving failed, and config.yaml was left as it was: " + err.Error()
		http.Redirect(w, r, "/review", http.StatusSeeOther)
		return
	}
	msg := fmt.Sprintf("Saved to %s: wrote %s", wz.opts.ConfigDir, strings.Join(ch.Written, ", "))
	if len(ch.Removed) > 0 {
		msg += "; removed " + strings.Join(ch.Removed, ", ")
	}
	if len(ch.BackedUp) > 0 {
		msg += "; kept the previous files as " + strings.Join(ch.BackedUp, ", ")
	}
	msg += ". Start the registry with: wharf serve --config-dir " + wz.opts.ConfigDir
	fmt.Fprintf(wz.opts.Out, "%s %s\n", time.Now().Format(time.DateTime), msg)
	sess.origin = wz.opts.ConfigDir + "/" + configtool.ConfigFile
	sess.flash = msg
	http.Redirect(w, r, "/review", http.StatusSeeOther)
}

// driversCSS shows a storage location's parameters for the chosen driver only (browsers
// without :has() show them all, each under its driver's name).
func (wz *Wizard) driversCSS(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("@supports selector(:has(*)) {\n  .location .params { display: none; }\n")
	for _, d := range wz.cat.drivers {
		fmt.Fprintf(&b, "  .location:has(select.driver option[value=%q]:checked) .params[data-driver=%q] { display: block; }\n", d.Name, d.Name)
	}
	b.WriteString("}\n")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	io.WriteString(w, b.String())
}
