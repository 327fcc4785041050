package configtool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/schema"
)

func TestWriteText(t *testing.T) {
	rep := &Report{
		Dir: "/etc/wharf",
		Problems: []schema.Problem{
			{Path: "MAIL_SERVER", Line: 7, Message: "FEATURE_MAILING is true, so MAIL_SERVER is required"},
			{Path: "ssl.key", Message: "ssl.cert is present but ssl.key is missing"},
			{Line: 3, Message: "not valid YAML: mapping values are not allowed here"},
			{Path: "PREFERRED_URL_SCHEME", Line: 2, Message: "https needs a certificate"},
		},
		Checks: []Result{
			{Group: GroupDatabase, Check: "connection", Path: "DB_URI", Status: StatusFailed, Message: "cannot connect"},
			{Group: GroupRedis, Check: "ping", Status: StatusSkipped, Message: "not set"},
			{Group: GroupDatabase, Check: "version", Status: StatusOK, Message: "PostgreSQL 16.4"},
		},
	}
	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `Validated config.yaml in /etc/wharf

document
  config.yaml:3: not valid YAML: mapping values are not allowed here

server
  config.yaml:2: PREFERRED_URL_SCHEME: https needs a certificate
  ssl.key: ssl.cert is present but ssl.key is missing

database
  FAILED  database connection: cannot connect
  ok      database version: PostgreSQL 16.4

redis
  skipped redis ping: not set

mail
  config.yaml:7: MAIL_SERVER: FEATURE_MAILING is true, so MAIL_SERVER is required

invalid: 4 problems
`
	if b.String() != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSummaryAndExitCode(t *testing.T) {
	ok := Result{Group: GroupDatabase, Check: "c", Status: StatusOK}
	failed := Result{Group: GroupRedis, Check: "c", Status: StatusFailed}
	skipped := Result{Group: GroupMail, Check: "c", Status: StatusSkipped}
	problem := schema.Problem{Path: "X", Message: "m"}
	cases := []struct {
		rep     Report
		state   string
		code    int
		summary string
	}{
		{Report{Checks: []Result{ok, skipped}}, ReportValid, ExitValid, "valid: 1 check passed, 1 skipped"},
		{Report{}, ReportValid, ExitValid, "valid: no reachability checks ran"},
		{Report{Checks: []Result{ok, failed, failed}}, ReportUnreachable, ExitUnreachable, "unreachable: 2 checks failed"},
		{Report{Checks: []Result{failed}}, ReportUnreachable, ExitUnreachable, "unreachable: 1 check failed"},
		{Report{Problems: []schema.Problem{problem}, Checks: []Result{failed}}, ReportInvalid, ExitInvalid, "invalid: 1 problem"},
		{Report{Problems: []schema.Problem{problem, problem}}, ReportInvalid, ExitInvalid, "invalid: 2 problems"},
	}
	for _, c := range cases {
		if got := c.rep.State(); got != c.state {
			t.Errorf("State() = %s, want %s", got, c.state)
		}
		if got := c.rep.ExitCode(); got != c.code {
			t.Errorf("ExitCode() = %d, want %d", got, c.code)
		}
		if got := c.rep.Summary(); got != c.summary {
			t.Errorf("Summary() = %q, want %q", got, c.summary)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	dir := configDir(t, "SERVER_HOSTNAME: localhost\nFEATURE_MAILING: true\n", nil)
	rep := validateDir(t, dir, Options{})
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dir      string           `json:"dir"`
		Problems []schema.Problem `json:"problems"`
		Checks   []Result         `json:"checks"`
		State    string           `json:"state"`
		ExitCode int              `json:"exit_code"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b.String())
	}
	if got.Dir != dir || got.State != "invalid" || got.ExitCode != ExitInvalid || got.Checks == nil {
		t.Errorf("JSON report = %+v", got)
	}
	if len(got.Problems) != 1 || got.Problems[0].Path != "MAIL_SERVER" || got.Problems[0].Line != 2 {
		t.Errorf("problems = %+v, want MAIL_SERVER at line 2", got.Problems)
	}
}

func TestValidateSchemaError(t *testing.T) {
	rep := validateDir(t, configDir(t, "SERVER_HOSTNAME: localhost\nFEATURE_MAILING: maybe\n", nil), Options{})
	if rep.Valid() || rep.ExitCode() != ExitInvalid || rep.Config != nil || len(rep.Checks) != 0 {
		t.Fatalf("a schema error: valid %t, exit %d, %d checks", rep.Valid(), rep.ExitCode(), len(rep.Checks))
	}
	expectProblem(t, rep.Problems, "FEATURE_MAILING", 2)
	var b bytes.Buffer
	WriteText(&b, rep)
	if !strings.Contains(b.String(), "config.yaml:2: FEATURE_MAILING: ") {
		t.Errorf("the text report does not name the line:\n%s", b.String())
	}
}

func TestValidateOfflineAndGroups(t *testing.T) {
	dir := configDir(t, fmt.Sprintf("SERVER_HOSTNAME: localhost\nDB_URI: postgresql://u:p@127.0.0.1:%d/db\n", testservers.FreePort(t)), nil)
	var progress []string
	rep := validateDir(t, dir, Options{Offline: true, Progress: func(g string) { progress = append(progress, g) }})
	if !rep.Valid() || rep.ExitCode() != ExitValid {
		t.Fatalf("offline: exit %d, problems %v", rep.ExitCode(), rep.Problems)
	}
	for _, c := range rep.Checks {
		if c.Group != GroupServer {
			t.Errorf("offline validation ran the %s check %q", c.Group, c.Check)
		}
	}
	if strings.Join(progress, ",") != GroupServer {
		t.Errorf("progress offline = %v, want only %s", progress, GroupServer)
	}

	progress = nil
	rep = validateDir(t, dir, Options{Groups: []string{GroupDatabase, GroupScanner}, Progress: func(g string) { progress = append(progress, g) }})
	if rep.ExitCode() != ExitUnreachable {
		t.Fatalf("an unreachable database: exit %d, want %d\n%s", rep.ExitCode(), ExitUnreachable, dump(rep.Checks))
	}
	if strings.Join(progress, ",") != "database,scanner" {
		t.Errorf("progress = %v, want database, scanner", progress)
	}
	for _, c := range rep.Checks {
		if c.Group != GroupDatabase && c.Group != GroupScanner {
			t.Errorf("the %s check ran though not asked for", c.Group)
		}
	}
}

// Every check honours its context: a cancelled validation returns at once.
func TestValidateCancelled(t *testing.T) {
	src, err := ReadDir(configDir(t, "SERVER_HOSTNAME: localhost\nDB_URI: postgresql://u:p@10.255.255.1:5432/db\nBUILDLOGS_REDIS: {host: 10.255.255.1}\nFEATURE_MAILING: true\nMAIL_SERVER: 10.255.255.1\nFEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_V4_ENDPOINT: http://10.255.255.1:8080\n", nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	rep, err := Validate(ctx, src, Options{Timeout: time.Minute, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a cancelled validation took %s", took)
	}
	if rep.Reachable() {
		t.Errorf("a cancelled validation reached everything:\n%s", dump(rep.Checks))
	}
}

// FuzzValidateOffline feeds arbitrary config.yaml, ssl.cert and extra CA content to offline
// validation: it must not panic, and every problem must say something.
func FuzzValidateOffline(f *testing.F) {
	f.Add([]byte("SERVER_HOSTNAME: localhost\n"), []byte(""), []byte(""))
	f.Add([]byte("PREFERRED_URL_SCHEME: https\nFEATURE_MAILING: true\nMAIL_USE_AUTH: true\n"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("x"))
	f.Add([]byte("AUTHENTICATION_TYPE: LDAP\nLDAP_URI: ldap://x/y\nLDAP_BASE_DN: [dc=x]\nLDAP_ADMIN_DN: '='\n"), []byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), []byte(""))
	f.Add([]byte("BUILDLOGS_REDIS: {port: 1}\nSECURITY_SCANNER_V4_PSK: '***'\nFEATURE_SECURITY_SCANNER: true\nDB_CONNECTION_ARGS: {sslrootcert: /nonexistent}\n"), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, config, cert, ca []byte) {
		src := Source{Files: map[string][]byte{ConfigFile: config}}
		if len(cert) > 0 {
			src.Files[CertFile] = cert
			src.Files[KeyFile] = cert
		}
		if len(ca) > 0 {
			src.Files[ExtraCADir+"/ca.pem"] = ca
		}
		rep, err := Validate(context.Background(), src, Options{Offline: true, DataDir: t.TempDir()})
		if err != nil {
			return // the schema could not be loaded: not about this input
		}
		for _, p := range rep.Problems {
			if p.Message == "" {
				t.Errorf("problem without a message: %+v", p)
			}
		}
		var b bytes.Buffer
		if err := WriteText(&b, rep); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), rep.Summary()) {
			t.Errorf("the text report lacks its summary")
		}
	})
}
