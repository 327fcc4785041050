package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFailedLoginsThrottle(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{UserThrottle: 3, IPThrottle: 100})
	if _, err := CreateUser(ctx, st, "alice", "alice-password", "", false); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st.Now = func() time.Time { return now }
	lc := LoginContext{IP: "192.0.2.1", Kind: "test"}
	for i := 0; i < 3; i++ {
		if _, err := s.Login(ctx, "alice", "wrong-password", lc); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Past the threshold even the right password waits, and the wait is announced.
	var te *ThrottledError
	if _, err := s.Login(ctx, "alice", "alice-password", lc); !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("login while throttled: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := s.Login(ctx, "alice", "alice-password", lc); err != nil {
		t.Fatalf("login after the back-off: %v", err)
	}
	// Success resets the user's count.
	if u, _ := st.UserByName(ctx, "alice"); u.FailedLogins != 0 {
		t.Fatalf("failed logins after success = %d", u.FailedLogins)
	}
}
