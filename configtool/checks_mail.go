package configtool

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/wharf-registry/wharf/schema"
)

func init() {
	consistencyChecks = append(consistencyChecks, checkMailSettings)
	checks = append(checks, Check{Group: GroupMail, Run: checkMail})
}

// checkMailSettings requires the settings FEATURE_MAILING and MAIL_USE_AUTH depend on. Each
// problem names the missing key and points at the line of the key that needs it.
func checkMailSettings(cfg *schema.Config, _ Source) []schema.Problem {
	if !cfg.FeatureMailing {
		return nil
	}
	var out []schema.Problem
	missing := func(key, because, message string) {
		p := cfg.Problem(because, message)
		p.Path = key
		out = append(out, p)
	}
	if strings.TrimSpace(cfg.MailServer) == "" {
		missing("MAIL_SERVER", "FEATURE_MAILING", "FEATURE_MAILING is true, so MAIL_SERVER is required: set it to the SMTP server's host name, or set FEATURE_MAILING: false")
	}
	if cfg.MailUseAuth {
		if cfg.MailUsername == "" {
			missing("MAIL_USERNAME", "MAIL_USE_AUTH", "MAIL_USE_AUTH is true, so MAIL_USERNAME is required: set the SMTP login, or set MAIL_USE_AUTH: false")
		}
		if cfg.MailPassword == "" {
			missing("MAIL_PASSWORD", "MAIL_USE_AUTH", "MAIL_USE_AUTH is true, so MAIL_PASSWORD is required: set the SMTP password, or set MAIL_USE_AUTH: false")
		}
	}
	return out
}

// checkMail connects to the mail server, greets it, upgrades with STARTTLS when MAIL_USE_TLS
// is set, authenticates when MAIL_USE_AUTH is set, and quits without sending anything.
func checkMail(ctx context.Context, env *Env) []Result {
	cfg := env.Config
	r := newResult(GroupMail, "smtp", "MAIL_SERVER")
	if !cfg.FeatureMailing {
		return []Result{r.skip("FEATURE_MAILING is off: Wharf sends no mail")}
	}
	start := time.Now()
	addr := net.JoinHostPort(cfg.MailServer, strconv.Itoa(cfg.MailPort))
	ctx, cancel := withTimeout(ctx, env)
	defer cancel()
	steps, path, err := talkSMTP(ctx, env, addr)
	if err != nil {
		r.Path = path
		return []Result{r.fail(start, "%s", err)}
	}
	return []Result{r.ok(start, "the mail server at %s accepted %s", addr, steps)}
}

// talkSMTP runs the SMTP conversation; on failure it returns the key to look at and an error
// that says what to change.
func talkSMTP(ctx context.Context, env *Env, addr string) (steps, path string, err error) {
	cfg := env.Config
	dialer := &net.Dialer{Timeout: env.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", "MAIL_SERVER", mailNetError(ctx, err, addr, env, "MAIL_SERVER and MAIL_PORT")
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	done := []string{"a connection"}
	var c *smtp.Client
	if cfg.MailUseTLS {
		// Greets the server, checks that it offers STARTTLS and upgrades the connection.
		c, err = smtp.NewClientStartTLS(conn, tlsConfig(env.Source, cfg.MailServer))
		if err != nil {
			return "", "MAIL_USE_TLS", mailNetError(ctx, err, addr, env, "MAIL_SERVER and MAIL_PORT")
		}
		done = append(done, "STARTTLS")
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout = env.Timeout
	if err := c.Hello(hostOf(cfg.ServerHostname)); err != nil {
		return "", "MAIL_PORT", mailNetError(ctx, err, addr, env, "MAIL_SERVER and MAIL_PORT")
	}
	if cfg.MailUseAuth {
		if ok, _ := c.Extension("AUTH"); !ok {
			hint := ""
			if !cfg.MailUseTLS {
				hint = " (many servers offer it only after STARTTLS: set MAIL_USE_TLS: true)"
			}
			return "", "MAIL_USE_AUTH", fmt.Errorf("the mail server at %s does not offer AUTH%s, but MAIL_USE_AUTH is true: set MAIL_USE_AUTH: false if it relays without a login", addr, hint)
		}
		mech, client := "PLAIN", sasl.NewPlainClient("", cfg.MailUsername, cfg.MailPassword)
		if !c.SupportsAuth("PLAIN") && c.SupportsAuth("LOGIN") {
			mech, client = "LOGIN", sasl.NewLoginClient(cfg.MailUsername, cfg.MailPassword)
		}
		if err := c.Auth(client); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) && (se.Code == 535 || se.Code == 534) {
				return "", "MAIL_PASSWORD", fmt.Errorf("the mail server at %s refused the login %s (%d %s): check MAIL_USERNAME and MAIL_PASSWORD", addr, cfg.MailUsername, se.Code, se.Message)
			}
			return "", "MAIL_USE_AUTH", mailNetError(ctx, err, addr, env, "MAIL_USE_AUTH, MAIL_USERNAME and MAIL_PASSWORD")
		}
		done = append(done, "AUTH "+mech+" as "+cfg.MailUsername)
		if !cfg.MailUseTLS {
			done = append(done, "(the password crossed the network in clear: set MAIL_USE_TLS: true if the server offers STARTTLS)")
		}
	}
	if err := c.Quit(); err != nil {
		return "", "MAIL_SERVER", mailNetError(ctx, err, addr, env, "MAIL_SERVER")
	}
	return strings.Join(done, ", "), "", nil
}

// mailNetError explains a failed SMTP step.
func mailNetError(ctx context.Context, err error, addr string, env *Env, keys string) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Errorf("the mail server at %s answered %d %s: check %s", addr, se.Code, se.Message, keys)
	}
	if strings.Contains(err.Error(), "doesn't support STARTTLS") {
		return fmt.Errorf("the mail server at %s does not offer STARTTLS, but MAIL_USE_TLS is true: enable STARTTLS on the server, or set MAIL_USE_TLS: false", addr)
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	reason := netReason(err, addr, env.Timeout)
	if reason == "" {
		reason = err.Error()
	}
	hint := ""
	if env.Config.MailPort == 465 {
		hint = " (port 465 is SMTPS, TLS from the first byte, which Wharf does not speak: use the submission port 587 with MAIL_USE_TLS: true)"
	}
	if strings.Contains(reason, "TLS certificate") {
		return fmt.Errorf("STARTTLS with the mail server failed: %s", reason)
	}
	return fmt.Errorf("cannot talk SMTP with %s: %s%s: check %s", addr, reason, hint, keys)
}
