package wizard

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"sort"
	"sync"
	"time"
)

const (
	sessionCookie = "wharf_wizard"
	csrfField     = "_csrf"
	sessionIdle   = 12 * time.Hour
	maxSessions   = 64
)

// session is one person's configuration in progress.
type session struct {
	mu   sync.Mutex
	id   string
	csrf string
	last time.Time

	// origin says what the session started from, for the page header.
	origin string
	// doc is config.yaml as JSON-shaped values; files are the files beside it.
	doc   map[string]any
	files map[string][]byte
	// raw holds what a person typed into a field that could not be read (YAML that does not
	// parse, a storage location without a name), by field id, so the page shows it again;
	// inputErrs says what is wrong with it. Both are kept per step and replaced whenever the
	// step's form is applied.
	raw       map[string]map[string]string
	inputErrs map[string]map[string]string
	// locRows are the storage locations as last typed when they could not be applied.
	locRows []locRow
	// blankLocs is how many empty location rows to show (after "Add a location").
	blankLocs int
	// flash is a one-time notice for the next page.
	flash string
}

// sessions holds the sessions of the people using the wizard, in memory.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newToken() string { return rand.Text() }

// get returns the request's session, or nil.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[c.Value]
	if sess == nil || time.Since(sess.last) > sessionIdle {
		delete(s.m, c.Value)
		return nil
	}
	sess.last = time.Now()
	return sess
}

// add stores a new session and sets its cookie: HttpOnly, SameSite=Strict, and Secure when
// the wizard is served over TLS. The oldest sessions are dropped beyond maxSessions.
func (s *sessions) add(w http.ResponseWriter, r *http.Request, sess *session) {
	sess.id, sess.csrf, sess.last = newToken(), newToken(), time.Now()
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	s.m[sess.id] = sess
	if len(s.m) > maxSessions {
		all := make([]*session, 0, len(s.m))
		for _, v := range s.m {
			all = append(all, v)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].last.Before(all[j].last) })
		for _, old := range all[:len(all)-maxSessions] {
			delete(s.m, old.id)
		}
	}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// validCSRF reports whether a form carries the session's token.
func (sess *session) validCSRF(r *http.Request) bool {
	got := r.PostFormValue(csrfField)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}
