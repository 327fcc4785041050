package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	goldap "github.com/go-ldap/ldap/v3"
)

// session is one connection, used for one operation and closed afterwards.
type session struct {
	ctx  context.Context
	conn *goldap.Conn
	stop func() bool // stops closing conn when ctx ends
}

// open connects to the directory (TLS for ldaps:// and with StartTLS) without binding. The
// connection is closed when ctx ends.
func (d *Directory) open(ctx context.Context) (*session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	raw, err := dialer.DialContext(ctx, "tcp", d.network)
	if err != nil {
		return nil, fmt.Errorf("ldap: connect to %s: %w: check LDAP_URI and that the LDAP server is reachable from here", d.network, err)
	}
	if d.ldaps {
		tc := tls.Client(raw, d.tlsConfig)
		hctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, d.tlsError(err)
		}
		raw = tc
	}
	conn := goldap.NewConn(raw, d.ldaps)
	conn.Start()
	conn.SetTimeout(d.cfg.Timeout)
	s := &session{ctx: ctx, conn: conn, stop: context.AfterFunc(ctx, func() { conn.Close() })}
	if d.cfg.StartTLS {
		// go-ldap reports a failed handshake as text only: verify the certificate here, as
		// crypto/tls would, to keep the reason.
		var verifyErr error
		cfg := d.tlsConfig.Clone()
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			verifyErr = verifyServer(cs, d.tlsConfig.RootCAs, d.tlsConfig.ServerName)
			return verifyErr
		}
		if err := conn.StartTLS(cfg); err != nil {
			s.close()
			if verifyErr != nil {
				return nil, d.tlsError(verifyErr)
			}
			if ldapErr := (*goldap.Error)(nil); errors.As(err, &ldapErr) && ldapErr.ResultCode != goldap.ErrorNetwork {
				return nil, fmt.Errorf("ldap: StartTLS with %s refused: %w: configure TLS on the LDAP server or use an ldaps:// LDAP_URI", d.network, err)
			}
			return nil, s.fail(d.tlsError(err))
		}
	}
	return s, nil
}

// verifyServer checks the server's certificate chain against roots (nil: the system's) and its
// name, as crypto/tls does by default.
func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// close ends the session.
func (s *session) close() {
	s.stop()
	s.conn.Close()
}

// fail returns err, or the context's error when the session was cut short by its context.
func (s *session) fail(err error) error {
	if cerr := s.ctx.Err(); cerr != nil {
		return fmt.Errorf("ldap: %w (the operation was interrupted: %v)", cerr, err)
	}
	return err
}

// tlsError explains a failed TLS handshake.
func (d *Directory) tlsError(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("ldap: TLS with %s failed: %w: add the CA that signed the LDAP server's certificate to the extra CA certificates (extra_ca_certs)", d.network, err)
	case errors.As(err, &host):
		return fmt.Errorf("ldap: TLS with %s failed: %w: LDAP_URI must name the host as the server's certificate does", d.network, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("ldap: TLS with %s failed: %w: the LDAP server's certificate is not valid (expired or not for a server); renew it", d.network, err)
	}
	return fmt.Errorf("ldap: TLS with %s failed: %w: check that LDAP_URI's port speaks %s", d.network, err, map[bool]string{true: "TLS (ldaps://)", false: "LDAP with StartTLS"}[d.ldaps])
}

// bindAdmin binds as LDAP_ADMIN_DN.
func (d *Directory) bindAdmin(s *session) error {
	err := s.conn.Bind(d.cfg.AdminDN, d.cfg.AdminPassword)
	switch {
	case err == nil:
		return nil
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
		return fmt.Errorf("ldap: bind as %s failed: invalid credentials: check LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD", d.cfg.AdminDN)
	default:
		return s.fail(fmt.Errorf("ldap: bind as %s (LDAP_ADMIN_DN) failed: %w", d.cfg.AdminDN, err))
	}
}

// connectAdmin opens a session bound as the admin.
func (d *Directory) connectAdmin(ctx context.Context) (*session, error) {
	s, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.bindAdmin(s); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}
