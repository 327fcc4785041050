package testservers

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestSMTP(t *testing.T) {
	s := SMTP(t, SMTPOptions{Username: "mailer", Password: "mail-pw", STARTTLS: true})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM) {
		t.Fatal("CACertPEM holds no certificate")
	}
	tc := &tls.Config{RootCAs: pool, ServerName: s.Host}

	// Before STARTTLS the server offers no AUTH and refuses mail.
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("STARTTLS is not offered")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH is offered before STARTTLS")
	}
	var se *smtp.SMTPError
	if err := c.Mail("a@example.com", nil); !errors.As(err, &se) || se.Code != 502 {
		t.Errorf("MAIL before login: %v, want 502", err)
	}
	c.Close()

	// A wrong password is refused with 535.
	c, err = smtp.DialStartTLS(s.Addr(), tc)
	if err != nil {
		t.Fatalf("STARTTLS with the test CA: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "mailer", "wrong")); !errors.As(err, &se) || se.Code != 535 {
		t.Errorf("AUTH with a wrong password: %v, want 535", err)
	}
	c.Close()

	// The right login sends a message.
	if err := smtp.SendMail(s.Addr(), sasl.NewPlainClient("", "mailer", "mail-pw"), "from@example.com", []string{"to@example.com"},
		strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err == nil {
		t.Error("SendMail trusting only the system roots succeeded")
	}
	c, err = smtp.DialStartTLS(s.Addr(), tc)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "mailer", "mail-pw")); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if err := c.SendMail("from@example.com", []string{"to@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Quit()
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].From != "from@example.com" || len(msgs[0].To) != 1 || !strings.Contains(string(msgs[0].Data), "hello") {
		t.Fatalf("messages = %+v, want the one sent", msgs)
	}
	if s.Logins() != 1 {
		t.Errorf("Logins() = %d, want 1", s.Logins())
	}

	// Without options: no STARTTLS, no AUTH, mail accepted.
	open := SMTP(t, SMTPOptions{})
	if open.Addr() == s.Addr() {
		t.Fatal("two servers share an address")
	}
	c, err = smtp.Dial(open.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"STARTTLS", "AUTH"} {
		if ok, _ := c.Extension(ext); ok {
			t.Errorf("%s is offered by a server without options", ext)
		}
	}
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
		t.Errorf("send without login: %v", err)
	}
	c.Quit()

	// Plain-text AUTH is allowed when there is no STARTTLS.
	plainAuth := SMTP(t, SMTPOptions{Username: "u", Password: "p"})
	c, err = smtp.Dial(plainAuth.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Errorf("AUTH without TLS: %v", err)
	}
	c.Quit()
}

func TestSMTPStopsAfterTest(t *testing.T) {
	var addr string
	t.Run("start", func(t *testing.T) { addr = SMTP(t, SMTPOptions{}).Addr() })
	if err := WaitTCP(addr, 0); err == nil {
		t.Fatalf("the SMTP server at %s still accepts connections after its test ended", addr)
	}
}
