// Package audit writes the action log: one row per security-relevant action (push, pull,
// deletions, tag changes, logins, token and permission changes, ...) with who did it, from
// where, in which namespace and repository, and the action's details. Kinds follow Quay's
// names so that existing tooling reads them.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

// Event is one action to record.
type Event struct {
	Kind string
	// Performer is who acted; nil for anonymous.
	Performer *store.User
	// Namespace and Repository name where it happened (Repository may be empty).
	Namespace    string
	NamespaceID  int64
	Repository   string
	RepositoryID int64
	IP           string
	Metadata     map[string]any
}

// Logger records events in the metadata store.
type Logger struct {
	store *store.Store
}

// New returns a logger writing to st.
func New(st *store.Store) *Logger { return &Logger{store: st} }

// Log records an event. The namespace id is looked up when only its name is given.
func (l *Logger) Log(ctx context.Context, e Event) error {
	if e.NamespaceID == 0 && e.Namespace != "" {
		if ns, err := l.store.Namespace(ctx, e.Namespace); err == nil {
			e.NamespaceID = ns.ID
		}
	}
	meta := []byte("{}")
	if len(e.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(e.Metadata); err != nil {
			return fmt.Errorf("audit %s: %w", e.Kind, err)
		}
	}
	row := store.LogEntry{Kind: e.Kind, AccountID: e.NamespaceID, Account: e.Namespace, RepositoryID: e.RepositoryID,
		Repository: e.Repository, IP: e.IP, Metadata: string(meta)}
	if e.Performer != nil {
		row.PerformerID, row.Performer, row.PerformerKind = e.Performer.ID, e.Performer.Name, e.Performer.Kind
	}
	return l.store.AppendLog(ctx, row)
}

// Prune deletes entries older than the retention period.
func (l *Logger) Prune(ctx context.Context, keep time.Duration) (int64, error) {
	return l.store.PruneLogs(ctx, time.Now().Add(-keep))
}

// ClientIP is the address a request came from.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
