// Package teamsync keeps teams synchronized with directory (LDAP) groups: a synchronized
// team's members are exactly the group's members, refreshed when the team is older than
// TEAM_RESYNC_STALE_TIME. Members who leave the group leave the team and lose what it
// granted; new members get local accounts on first sight.
package teamsync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// Syncer synchronizes teams.
type Syncer struct {
	store *store.Store
	auth  *auth.Service
	dir   auth.Directory
	audit *audit.Logger
	stale time.Duration
	log   *slog.Logger
}

// New returns a syncer reading groups from dir.
func New(st *store.Store, as *auth.Service, dir auth.Directory, al *audit.Logger, stale time.Duration, log *slog.Logger) *Syncer {
	return &Syncer{store: st, auth: as, dir: dir, audit: al, stale: stale, log: log}
}

// Sync makes one team's members its group's members.
func (s *Syncer) Sync(ctx context.Context, team store.Team) error {
	if team.SyncGroup == "" {
		return fmt.Errorf("team %s is not synchronized with a group", team.Name)
	}
	members, err := s.dir.GroupMembers(ctx, team.SyncGroup)
	if err != nil {
		return fmt.Errorf("sync team %s with %s: %w", team.Name, team.SyncGroup, err)
	}
	ids := make([]int64, 0, len(members))
	for _, m := range members {
		u, err := s.auth.ExternalUser(ctx, "ldap", m)
		if err != nil {
			return fmt.Errorf("sync team %s: %w", team.Name, err)
		}
		ids = append(ids, u.ID)
	}
	added, removed, err := s.store.ReplaceTeamMembers(ctx, team.ID, ids)
	if err != nil {
		return err
	}
	org, err := s.store.AccountByID(ctx, team.OrgID)
	if err != nil {
		return err
	}
	for _, change := range []struct {
		kind string
		ids  []int64
	}{{"org_add_team_member", added}, {"org_remove_team_member", removed}} {
		for _, id := range change.ids {
			member, err := s.store.AccountByID(ctx, id)
			if err != nil {
				return err
			}
			if err := s.audit.Log(ctx, audit.Event{Kind: change.kind, Namespace: org.Name, NamespaceID: org.ID,
				Metadata: map[string]any{"team": team.Name, "member": member.Name, "synced_group": team.SyncGroup}}); err != nil {
				return err
			}
		}
	}
	if len(added)+len(removed) > 0 {
		s.auth.Forget()
		s.log.InfoContext(ctx, "team synchronized", "org", org.Name, "team", team.Name, "added", len(added), "removed", len(removed))
	}
	return nil
}

// SyncStale synchronizes every team not refreshed within the stale time.
func (s *Syncer) SyncStale(ctx context.Context) error {
	teams, err := s.store.StaleSyncedTeams(ctx, time.Now().Add(-s.stale).UnixMicro())
	if err != nil {
		return err
	}
	var first error
	for _, t := range teams {
		if err := s.Sync(ctx, t); err != nil {
			s.log.WarnContext(ctx, "team sync failed", "team", t.Name, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// Run synchronizes stale teams every interval until ctx ends.
func (s *Syncer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.SyncStale(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
