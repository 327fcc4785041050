package store_test

import (
	"errors"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestMessages(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		if got, err := s.Messages(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Messages on an empty store = %+v, %v", got, err)
		}
		a, err := s.CreateMessage(ctx, store.Message{UUID: "u-1", Content: "**Maintenance** tonight", Severity: "warning", MediaType: "text/markdown"})
		if err != nil || a.ID == 0 || a.CreatedAt.IsZero() {
			t.Fatalf("CreateMessage = %+v, %v", a, err)
		}
		if _, err := s.CreateMessage(ctx, store.Message{UUID: "u-2", Content: "hello", Severity: "info", MediaType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateMessage(ctx, store.Message{UUID: "u-1", Content: "again", Severity: "info", MediaType: "text/plain"}); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate uuid: %v", err)
		}
		got, err := s.Messages(ctx)
		if err != nil || len(got) != 2 || got[0].UUID != "u-1" || got[0].Content != "**Maintenance** tonight" || got[0].Severity != "warning" ||
			got[0].MediaType != "text/markdown" || got[1].UUID != "u-2" || got[1].MediaType != "text/plain" {
			t.Fatalf("Messages = %+v, %v", got, err)
		}
		if err := s.DeleteMessage(ctx, "u-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMessage(ctx, "u-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second DeleteMessage: %v", err)
		}
		if got, _ := s.Messages(ctx); len(got) != 1 || got[0].UUID != "u-2" {
			t.Fatalf("after delete: %+v", got)
		}
	})
}
