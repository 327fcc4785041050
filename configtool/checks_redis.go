package configtool

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wharf-registry/wharf/schema"
)

func init() {
	consistencyChecks = append(consistencyChecks, checkRedisSettings)
	checks = append(checks, Check{Group: GroupRedis, Run: checkRedis})
}

// redisKeys are the Redis settings, in the order they are checked.
var redisKeys = []string{"BUILDLOGS_REDIS", "USER_EVENTS_REDIS"}

func redisOf(cfg *schema.Config, key string) schema.Redis {
	if key == "BUILDLOGS_REDIS" {
		return cfg.BuildlogsRedis
	}
	return cfg.UserEventsRedis
}

// checkRedisSettings finds a Redis setting that gives a port, password or TLS but no host:
// half a configuration, which would otherwise be read as "no Redis".
func checkRedisSettings(cfg *schema.Config, _ Source) []schema.Problem {
	var out []schema.Problem
	for _, key := range redisKeys {
		r := redisOf(cfg, key)
		if r.Configured() {
			continue
		}
		for _, sub := range []string{"port", "password", "ssl"} {
			if cfg.Has(key + "/" + sub) {
				out = append(out, cfg.Problem(key, fmt.Sprintf("%s sets %s but no host: add host (the Redis server's name or address), or remove %s", key, sub, key)))
				break
			}
		}
	}
	return out
}

// checkRedis PINGs each Redis server the config names, with its password and TLS; a server
// named by both keys is checked once.
func checkRedis(ctx context.Context, env *Env) []Result {
	cfg := env.Config
	b, u := cfg.BuildlogsRedis, cfg.UserEventsRedis
	switch {
	case !b.Configured() && !u.Configured():
		return []Result{newResult(GroupRedis, "ping", "BUILDLOGS_REDIS").skip("BUILDLOGS_REDIS and USER_EVENTS_REDIS are not set: Wharf keeps build logs and events in the database")}
	case b == u:
		return []Result{pingRedis(ctx, env, "BUILDLOGS_REDIS and USER_EVENTS_REDIS", "BUILDLOGS_REDIS", b)}
	}
	var out []Result
	for _, key := range redisKeys {
		if r := redisOf(cfg, key); r.Configured() {
			out = append(out, pingRedis(ctx, env, key, key, r))
		}
	}
	return out
}

// pingRedis connects to one server and sends PING. It makes the connection itself (TCP,
// then TLS) and hands it to the Redis client, so that a server that cannot be reached is
// reported once, in words, rather than retried and logged by the client's pool.
func pingRedis(ctx context.Context, env *Env, what, key string, r schema.Redis) Result {
	start := time.Now()
	res := newResult(GroupRedis, "ping "+what, key)
	ctx, cancel := withTimeout(ctx, env)
	defer cancel()
	conn, err := (&net.Dialer{Timeout: env.Timeout}).DialContext(ctx, "tcp", r.Addr())
	if err != nil {
		return res.fail(start, "%s", redisError(err, what, key, r, env))
	}
	if r.SSL {
		tc := tls.Client(conn, tlsConfig(env.Source, r.Host))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			if ctx.Err() != nil || isTimeout(err) {
				return res.fail(start, "Redis at %s did not complete a TLS handshake within %s: if the server does not speak TLS, set %s.ssl: false", r.Addr(), env.Timeout, key)
			}
			return res.fail(start, "%s", redisError(err, what, key, r, env))
		}
		conn = tc
	}
	var once sync.Once
	client := redis.NewClient(&redis.Options{
		Addr:     r.Addr(),
		Password: r.Password,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			var c net.Conn
			once.Do(func() { c = conn })
			if c == nil {
				return nil, errors.New("the connection was closed")
			}
			return c, nil
		},
		ReadTimeout:     env.Timeout,
		WriteTimeout:    env.Timeout,
		MaxRetries:      -1, // one attempt: a check reports what happened, it does not insist
		PoolSize:        1,
		DisableIdentity: true,
	})
	defer client.Close()
	reply, err := client.Ping(ctx).Result()
	if err != nil {
		return res.fail(start, "%s", redisError(err, what, key, r, env))
	}
	mode := "plain TCP"
	if r.SSL {
		mode = "TLS"
	}
	return res.ok(start, "Redis at %s answered PING with %s (%s)", r.Addr(), reply, mode)
}

// redisError says what a failed PING means and what to change.
func redisError(err error, what, key string, r schema.Redis, env *Env) string {
	msg := err.Error()
	addr := r.Addr()
	switch {
	case strings.HasPrefix(msg, "WRONGPASS") || strings.Contains(msg, "invalid password") || strings.Contains(msg, "invalid username-password"):
		return fmt.Sprintf("Redis at %s refused the password: check %s.password", addr, key)
	case strings.HasPrefix(msg, "NOAUTH"):
		return fmt.Sprintf("Redis at %s requires a password: set %s.password", addr, key)
	case strings.Contains(msg, "without any password configured") || strings.Contains(msg, "AUTH <password> called without"):
		return fmt.Sprintf("Redis at %s has no password, but %s gives one: remove %s.password or set requirepass on the server", addr, what, key)
	case strings.HasPrefix(msg, "LOADING"):
		return fmt.Sprintf("Redis at %s is still loading its data: validate again in a moment", addr)
	}
	if reason := netReason(err, addr, env.Timeout); reason != "" {
		hint := fmt.Sprintf("check %s.host and %s.port", key, key)
		if strings.Contains(reason, "TLS") {
			hint = fmt.Sprintf("check %s.ssl", key)
		}
		return fmt.Sprintf("cannot reach Redis: %s: %s", reason, hint)
	}
	if !r.SSL && (strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset")) {
		return fmt.Sprintf("Redis at %s closed the connection: %v: if the server expects TLS, set %s.ssl: true", addr, err, key)
	}
	return fmt.Sprintf("Redis at %s: %v: check %s", addr, err, key)
}
