package ui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestRobotCredentials(t *testing.T) {
	c := robotCredentials(Robot{Name: "acme+ci_bot", Token: "TOK3N"}, "registry.example:8443")
	if want := "podman login -u 'acme+ci_bot' -p 'TOK3N' registry.example:8443"; c.Podman != want {
		t.Errorf("podman: %q, want %q", c.Podman, want)
	}
	wantAuth := base64.StdEncoding.EncodeToString([]byte("acme+ci_bot:TOK3N"))
	var cfg struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal([]byte(c.DockerConfig), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Auths["registry.example:8443"].Auth != wantAuth {
		t.Errorf("docker config: %s", c.DockerConfig)
	}
	if !strings.Contains(c.KubeSecret, "type: kubernetes.io/dockerconfigjson\n") || !strings.Contains(c.KubeSecret, "name: acme-ci-bot-pull-secret\n") {
		t.Errorf("secret:\n%s", c.KubeSecret)
	}
	_, enc, ok := strings.Cut(c.KubeSecret, ".dockerconfigjson: ")
	if !ok {
		t.Fatalf("secret:\n%s", c.KubeSecret)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auths = nil
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.Auths["registry.example:8443"].Auth != wantAuth {
		t.Errorf("secret's config %s: %v", raw, err)
	}
}

func TestWithParam(t *testing.T) {
	if got := withParam("/settings/?tab=robots", "robot", "a b"); got != "/settings/?tab=robots&robot=a+b" {
		t.Error(got)
	}
	if got := withParam("/x", "robot", "ci"); got != "/x?robot=ci" {
		t.Error(got)
	}
}

// TestRobotsPartial renders the robots partial as settings.html calls it.
func TestRobotsPartial(t *testing.T) {
	u := &UI{}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"org_list", "org_new", "org_page", "org_team"} {
		if u.pages[name] == nil {
			t.Errorf("no %s page", name)
		}
	}
	sel := robotCredentials(Robot{Name: "dana+ci", Short: "ci", Token: "SECRET"}, "reg.test")
	v := &RobotsView{Owner: "dana", Base: "/settings/?tab=robots", Robots: []Robot{{Name: "dana+ci", Short: "ci"}}, Selected: sel}
	var buf bytes.Buffer
	err := u.pages["settings"].ExecuteTemplate(&buf, "robots", map[string]any{"Robots": v, "CSRF": "tok", "Host": "reg.test"})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`id="robot-podman-login">podman login -u &#39;dana&#43;ci&#39; -p &#39;SECRET&#39; reg.test<`, `href="/settings/?tab=robots&amp;robot=ci#robot-credentials"`, `name="op" value="robot.regenerate"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the partial lacks %s:\n%s", want, out)
		}
	}
}
