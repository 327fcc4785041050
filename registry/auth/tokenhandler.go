package auth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
)

// TokenHandler serves the Docker token endpoint (/v2/auth): GET with optional Basic
// credentials and scope parameters, and the OAuth2 form POST (grant_type=password).
func (s *Service) TokenHandler(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id Identity
		var scopes []string
		switch r.Method {
		case http.MethodGet:
			creds, err := s.Authenticate(r)
			if err != nil || (creds.Token != nil) {
				// Tokens are not exchanged for tokens: clients log in with passwords.
				loginError(w, err)
				return
			}
			id = creds.Identity
			scopes = r.URL.Query()["scope"]
		case http.MethodPost:
			if err := r.ParseForm(); err != nil {
				tokenError(w, http.StatusBadRequest, "invalid form")
				return
			}
			if gt := r.PostForm.Get("grant_type"); gt != "password" {
				tokenError(w, http.StatusBadRequest, "unsupported grant_type "+strconv.Quote(gt)+": use password")
				return
			}
			var err error
			id, err = s.Login(r.Context(), r.PostForm.Get("username"), r.PostForm.Get("password"), LoginContext{Registry: true, IP: audit.ClientIP(r), Kind: "docker"})
			if err != nil {
				loginError(w, err)
				return
			}
			scopes = r.PostForm["scope"]
		default:
			w.Header().Set("Allow", "GET, POST")
			tokenError(w, http.StatusMethodNotAllowed, "use GET or POST")
			return
		}
		requested, err := ParseScopes(scopes)
		if err != nil {
			tokenError(w, http.StatusBadRequest, err.Error())
			return
		}
		granted, err := s.Grant(r.Context(), id, requested)
		if err != nil {
			log.ErrorContext(r.Context(), "grant token access", "err", err)
			tokenError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if id.User != nil && s.opts.Audit != nil {
			ev := audit.Event{Kind: "login_success", Performer: id.User, IP: audit.ClientIP(r),
				Metadata: map[string]any{"type": "docker", "via": id.Via, "useragent": r.UserAgent()}}
			if !id.Robot() {
				ev.Namespace, ev.NamespaceID = id.User.Name, id.User.ID
			}
			if err := s.opts.Audit.Log(r.Context(), ev); err != nil {
				log.ErrorContext(r.Context(), "audit login", "err", err)
				tokenError(w, http.StatusInternalServerError, "internal error")
				return
			}
		}
		tok, err := s.IssueToken(id, granted)
		if err != nil {
			log.ErrorContext(r.Context(), "issue token", "err", err)
			tokenError(w, http.StatusInternalServerError, "internal error")
			return
		}
		body, _ := json.Marshal(map[string]any{
			"token":        tok.Token,
			"access_token": tok.Token,
			"expires_in":   tok.ExpiresIn,
			"issued_at":    tok.IssuedAt.UTC().Format(time.RFC3339),
		})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
}

// loginError answers a failed login: 429 with Retry-After while throttled, else 401.
func loginError(w http.ResponseWriter, err error) {
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		tokenError(w, http.StatusTooManyRequests, te.Error())
	case errors.Is(err, ErrEncryptedPasswordRequired):
		tokenError(w, http.StatusUnauthorized, err.Error())
	case err != nil && !errors.Is(err, ErrBadCredentials):
		tokenError(w, http.StatusInternalServerError, "internal error")
	default:
		tokenError(w, http.StatusUnauthorized, "invalid username or password")
	}
}

func tokenError(w http.ResponseWriter, status int, msg string) {
	code := "UNAUTHORIZED"
	if status == http.StatusTooManyRequests {
		code = "TOOMANYREQUESTS"
	} else if status != http.StatusUnauthorized {
		code = "UNSUPPORTED"
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
