package configtool

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestRedisCheck(t *testing.T) {
	open := testservers.Redis(t, testservers.RedisOptions{})
	locked := testservers.Redis(t, testservers.RedisOptions{Password: "redis-pw"})
	secure := testservers.Redis(t, testservers.RedisOptions{Password: "tls-pw", TLS: true})
	otherCA := makeCert(t, certSpec{cn: "Other CA", ca: true}, nil)
	closed := testservers.FreePort(t)
	redis := func(key string, s *testservers.RedisServer, password string, ssl bool) string {
		v := fmt.Sprintf("%s: {host: %s, port: %d", key, s.Host, s.Port)
		if password != "" {
			v += ", password: " + password
		}
		if ssl {
			v += ", ssl: true"
		}
		return v + "}\n"
	}
	both := func(s *testservers.RedisServer, password string, ssl bool) string {
		return redis("BUILDLOGS_REDIS", s, password, ssl) + redis("USER_EVENTS_REDIS", s, password, ssl)
	}
	trustSecure := map[string]string{"extra_ca_certs/redis-ca.pem": string(secure.CACertPEM)}
	cases := []struct {
		name   string
		config string
		files  map[string]string
		wants  []want
	}{
		{"one server for both, no password", both(open, "", false), nil,
			[]want{{StatusOK, "ping BUILDLOGS_REDIS and USER_EVENTS_REDIS", "BUILDLOGS_REDIS", []string{"Redis at " + open.Addr() + " answered PING with PONG", "plain TCP"}}}},
		{"password", both(locked, "redis-pw", false), nil,
			[]want{{StatusOK, "ping BUILDLOGS_REDIS and USER_EVENTS_REDIS", "", []string{"PONG"}}}},
		{"two servers", redis("BUILDLOGS_REDIS", open, "", false) + redis("USER_EVENTS_REDIS", locked, "redis-pw", false), nil,
			[]want{
				{StatusOK, "ping BUILDLOGS_REDIS", "BUILDLOGS_REDIS", []string{open.Addr()}},
				{StatusOK, "ping USER_EVENTS_REDIS", "USER_EVENTS_REDIS", []string{locked.Addr()}},
			}},
		{"only USER_EVENTS_REDIS", redis("USER_EVENTS_REDIS", open, "", false), nil,
			[]want{{StatusOK, "ping USER_EVENTS_REDIS", "USER_EVENTS_REDIS", nil}}},
		{"wrong password", both(locked, "nope", false), nil,
			[]want{{StatusFailed, "ping", "BUILDLOGS_REDIS", []string{"Redis at " + locked.Addr() + " refused the password", "check BUILDLOGS_REDIS.password"}}}},
		{"password missing", redis("BUILDLOGS_REDIS", locked, "", false), nil,
			[]want{{StatusFailed, "ping BUILDLOGS_REDIS", "BUILDLOGS_REDIS", []string{"requires a password", "set BUILDLOGS_REDIS.password"}}}},
		{"password the server does not need (Redis lets any password in then)", redis("BUILDLOGS_REDIS", open, "extra", false), nil,
			[]want{{StatusOK, "ping BUILDLOGS_REDIS", "BUILDLOGS_REDIS", []string{"PONG"}}}},
		{"TLS with the CA in extra_ca_certs", both(secure, "tls-pw", true), trustSecure,
			[]want{{StatusOK, "ping", "", []string{"PONG", "(TLS)"}}}},
		{"TLS with the wrong CA", both(secure, "tls-pw", true), map[string]string{"extra_ca_certs/other.pem": otherCA.certPEM()},
			[]want{{StatusFailed, "ping", "BUILDLOGS_REDIS", []string{"signed by an unknown authority", "extra_ca_certs", "check BUILDLOGS_REDIS.ssl"}}}},
		{"TLS server but ssl off", both(secure, "tls-pw", false), trustSecure,
			[]want{{StatusFailed, "ping", "BUILDLOGS_REDIS", []string{"set BUILDLOGS_REDIS.ssl: true"}}}},
		{"nothing listens", "BUILDLOGS_REDIS: {host: 127.0.0.1, port: " + strconv.Itoa(closed) + "}\n", nil,
			[]want{{StatusFailed, "ping BUILDLOGS_REDIS", "BUILDLOGS_REDIS", []string{"connection refused", "check BUILDLOGS_REDIS.host and BUILDLOGS_REDIS.port"}}}},
		{"not configured", "SERVER_HOSTNAME: localhost\n", nil,
			[]want{{StatusSkipped, "ping", "BUILDLOGS_REDIS", []string{"not set"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkGroup(t, GroupRedis, c.config, c.files), c.wants...)
		})
	}
}

// A plain-text server does not answer a TLS handshake: the check waits for its timeout and
// says which setting to look at.
func TestRedisCheckTLSAgainstPlainServer(t *testing.T) {
	open := testservers.Redis(t, testservers.RedisOptions{})
	config := fmt.Sprintf("BUILDLOGS_REDIS: {host: %s, port: %d, ssl: true}\n", open.Host, open.Port)
	rep := validateDir(t, configDir(t, config, nil), Options{Groups: []string{GroupRedis}, Timeout: time.Second})
	expect(t, rep.Checks, want{StatusFailed, "ping BUILDLOGS_REDIS", "BUILDLOGS_REDIS", []string{"did not complete a TLS handshake within 1s", "set BUILDLOGS_REDIS.ssl: false"}})
}

func TestRedisSettingProblems(t *testing.T) {
	problems := problemsOf(t, "SERVER_HOSTNAME: localhost\nBUILDLOGS_REDIS:\n  port: 6379\n  password: x\nUSER_EVENTS_REDIS: {}\n", nil)
	if len(problems) != 1 {
		t.Errorf("got %d problems, want 1: %v", len(problems), problems)
	}
	expectProblem(t, problems, "BUILDLOGS_REDIS", 2, "sets port but no host")
}
