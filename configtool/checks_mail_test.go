package configtool

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMailCheck(t *testing.T) {
	secure := testservers.SMTP(t, testservers.SMTPOptions{Username: "mailer", Password: "mail-pw", STARTTLS: true})
	plain := testservers.SMTP(t, testservers.SMTPOptions{Username: "relay", Password: "relay-pw"})
	open := testservers.SMTP(t, testservers.SMTPOptions{})
	otherCA := makeCert(t, certSpec{cn: "Other CA", ca: true}, nil)
	closed := testservers.FreePort(t)
	trust := map[string]string{"extra_ca_certs/mail-ca.pem": string(secure.CACertPEM)}
	mail := func(s *testservers.SMTPServer, port int, useTLS, useAuth bool, user, password string) string {
		c := fmt.Sprintf("SERVER_HOSTNAME: registry.example.com\nFEATURE_MAILING: true\nMAIL_SERVER: %s\nMAIL_PORT: %d\nMAIL_USE_TLS: %t\nMAIL_USE_AUTH: %t\nMAIL_DEFAULT_SENDER: registry@example.com\n",
			s.Host, port, useTLS, useAuth)
		if useAuth {
			c += fmt.Sprintf("MAIL_USERNAME: %s\nMAIL_PASSWORD: %s\n", user, password)
		}
		return c
	}
	cases := []struct {
		name   string
		config string
		files  map[string]string
		wants  []want
	}{
		{"STARTTLS and AUTH", mail(secure, secure.Port, true, true, "mailer", "mail-pw"), trust,
			[]want{{StatusOK, "smtp", "MAIL_SERVER", []string{"the mail server at " + secure.Addr() + " accepted a connection, STARTTLS, AUTH PLAIN as mailer"}}}},
		{"AUTH without TLS", mail(plain, plain.Port, false, true, "relay", "relay-pw"), nil,
			[]want{{StatusOK, "smtp", "", []string{"AUTH PLAIN as relay", "crossed the network in clear"}}}},
		{"no TLS, no AUTH", mail(open, open.Port, false, false, "", ""), nil,
			[]want{{StatusOK, "smtp", "", []string{"accepted a connection"}}}},
		{"wrong port", mail(secure, closed, true, true, "mailer", "mail-pw"), trust,
			[]want{{StatusFailed, "smtp", "MAIL_SERVER", []string{"127.0.0.1:" + strconv.Itoa(closed), "connection refused", "check MAIL_SERVER and MAIL_PORT"}}}},
		{"wrong password", mail(secure, secure.Port, true, true, "mailer", "nope"), trust,
			[]want{{StatusFailed, "smtp", "MAIL_PASSWORD", []string{"refused the login mailer (535", "check MAIL_USERNAME and MAIL_PASSWORD"}}}},
		{"STARTTLS required but the server lacks it", mail(plain, plain.Port, true, true, "relay", "relay-pw"), nil,
			[]want{{StatusFailed, "smtp", "MAIL_USE_TLS", []string{"does not offer STARTTLS", "MAIL_USE_TLS: false"}}}},
		{"STARTTLS with an untrusted certificate", mail(secure, secure.Port, true, true, "mailer", "mail-pw"), map[string]string{"extra_ca_certs/other.pem": otherCA.certPEM()},
			[]want{{StatusFailed, "smtp", "", []string{"unknown authority", "extra_ca_certs"}}}},
		{"AUTH asked for but only offered after STARTTLS", mail(secure, secure.Port, false, true, "mailer", "mail-pw"), nil,
			[]want{{StatusFailed, "smtp", "MAIL_USE_AUTH", []string{"does not offer AUTH", "set MAIL_USE_TLS: true"}}}},
		{"mailing off", "FEATURE_MAILING: false\n", nil,
			[]want{{StatusSkipped, "smtp", "MAIL_SERVER", []string{"FEATURE_MAILING is off"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkGroup(t, GroupMail, c.config, c.files), c.wants...)
		})
	}
	if n := len(secure.Messages()) + len(plain.Messages()) + len(open.Messages()); n != 0 {
		t.Errorf("the mail check sent %d messages; it must send none", n)
	}
	if secure.Logins() != 1 || plain.Logins() != 1 {
		t.Errorf("logins: %d with STARTTLS, %d without; want 1 each (the passing cases)", secure.Logins(), plain.Logins())
	}
}

// A server that never greets (such as an SMTPS port spoken to in plain text) fails the check
// within its timeout, with a word about port 465.
func TestMailCheckSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection open without a word
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	config := fmt.Sprintf("FEATURE_MAILING: true\nMAIL_SERVER: 127.0.0.1\nMAIL_PORT: %d\nMAIL_USE_TLS: false\n", port)
	start := time.Now()
	rep := validateDir(t, configDir(t, config, nil), Options{Groups: []string{GroupMail}, Timeout: time.Second})
	expect(t, rep.Checks, want{StatusFailed, "smtp", "", []string{"did not answer within 1s"}})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the check took %s with a 1s timeout", took)
	}
}

func TestMailSettingProblems(t *testing.T) {
	cases := []struct {
		name   string
		config string
		path   string
		line   int
		words  []string
	}{
		{"mailing without a server", "SERVER_HOSTNAME: localhost\nFEATURE_MAILING: true\n", "MAIL_SERVER", 2, []string{"FEATURE_MAILING is true, so MAIL_SERVER is required"}},
		{"auth without a username", "FEATURE_MAILING: true\nMAIL_SERVER: smtp.example.com\nMAIL_USE_AUTH: true\nMAIL_PASSWORD: x\n", "MAIL_USERNAME", 3, []string{"MAIL_USE_AUTH is true, so MAIL_USERNAME is required"}},
		{"auth without a password", "FEATURE_MAILING: true\nMAIL_SERVER: smtp.example.com\nMAIL_USE_AUTH: true\nMAIL_USERNAME: x\n", "MAIL_PASSWORD", 3, []string{"MAIL_PASSWORD is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := problemsOf(t, tc.config, nil)
			if len(problems) != 1 {
				t.Errorf("got %d problems, want 1: %v", len(problems), problems)
			}
			expectProblem(t, problems, tc.path, tc.line, tc.words...)
		})
	}
	for _, good := range []string{
		"FEATURE_MAILING: false\nMAIL_USE_AUTH: true\n", // settings of a feature that is off are not needed
		"FEATURE_MAILING: true\nMAIL_SERVER: smtp.example.com\nMAIL_USE_AUTH: true\nMAIL_USERNAME: u\nMAIL_PASSWORD: p\n",
	} {
		if problems := problemsOf(t, good, nil); len(problems) != 0 {
			t.Errorf("problems in %q: %v", good, problems)
		}
	}
}
