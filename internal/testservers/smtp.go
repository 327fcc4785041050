package testservers

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPOptions configure a test mail server.
type SMTPOptions struct {
	// Username and Password, when set, are the one login AUTH PLAIN accepts; the server then
	// refuses mail from clients that have not logged in.
	Username, Password string
	// STARTTLS offers the STARTTLS extension with a certificate for localhost and 127.0.0.1
	// signed by the server's own test CA (SMTPServer.CACertPEM). With STARTTLS, AUTH is
	// offered only after it, as real submission servers do.
	STARTTLS bool
}

// SMTPMessage is a message the test server accepted.
type SMTPMessage struct {
	From string
	To   []string
	Data []byte
}

// SMTPServer is a real SMTP server (github.com/emersion/go-smtp) started in-process for one
// test on a free loopback port.
type SMTPServer struct {
	// Host and Port are where it listens: 127.0.0.1 and a free port.
	Host string
	Port int
	// Username and Password are the accepted login ("" when AUTH is not offered).
	Username, Password string
	// CACertPEM is the CA that signed the STARTTLS certificate (nil without STARTTLS).
	CACertPEM []byte

	mu       sync.Mutex
	messages []SMTPMessage
	logins   int
}

// Addr is HOST:PORT.
func (s *SMTPServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns the messages accepted so far.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.messages...)
}

// Logins returns how many clients logged in successfully.
func (s *SMTPServer) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// SMTP starts a mail server for this test, stopped when the test ends.
func SMTP(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{Host: "127.0.0.1", Username: opts.Username, Password: opts.Password}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{server: s}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = !opts.STARTTLS
	srv.ErrorLog = log.New(io.Discard, "", 0) // clients that hang up early are expected in tests
	if opts.STARTTLS {
		caPEM, certPEM, keyPEM, err := slapdCertificates()
		if err != nil {
			t.Fatalf("smtp: make test certificates: %v", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatalf("smtp: %v", err)
		}
		s.CACertPEM = caPEM
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.Host, "0"))
	if err != nil {
		t.Fatalf("smtp: listen: %v", err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		ln.Close() // Serve may not have registered the listener with srv yet
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtp server: %v", err)
		}
	})
	return s
}

// smtpSession is one client's conversation.
type smtpSession struct {
	server *SMTPServer
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

// AuthMechanisms offers PLAIN when the server has a login.
func (c *smtpSession) AuthMechanisms() []string {
	if c.server.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks the login.
func (c *smtpSession) Auth(mech string) (sasl.Server, error) {
	if c.server.Username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != c.server.Username || password != c.server.Password {
			return smtp.ErrAuthFailed
		}
		c.authed = true
		c.server.mu.Lock()
		c.server.logins++
		c.server.mu.Unlock()
		return nil
	}), nil
}

func (c *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if c.server.Username != "" && !c.authed {
		return smtp.ErrAuthRequired
	}
	c.from = from
	return nil
}

func (c *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.to = append(c.to, to)
	return nil
}

func (c *smtpSession) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	c.server.mu.Lock()
	c.server.messages = append(c.server.messages, SMTPMessage{From: c.from, To: c.to, Data: buf.Bytes()})
	c.server.mu.Unlock()
	return nil
}

func (c *smtpSession) Reset() { c.from, c.to = "", nil }

func (c *smtpSession) Logout() error { return nil }
