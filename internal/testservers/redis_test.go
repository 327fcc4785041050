package testservers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ping := func(s *RedisServer, password string, tc *tls.Config) error {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: password, TLSConfig: tc, MaxRetries: -1, DialerRetries: 1, DisableIdentity: true})
		defer c.Close()
		return c.Ping(ctx).Err()
	}

	plain := Redis(t, RedisOptions{})
	if err := ping(plain, "", nil); err != nil {
		t.Fatalf("PING without password: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: plain.Addr(), DisableIdentity: true})
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v; want v", v, err)
	}
	c.Close()

	secret := Redis(t, RedisOptions{Password: "s3cret"})
	if secret.Addr() == plain.Addr() {
		t.Fatal("two servers share an address")
	}
	if err := ping(secret, "s3cret", nil); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
	if err := ping(secret, "wrong", nil); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("PING with a wrong password: %v, want WRONGPASS", err)
	}
	if err := ping(secret, "", nil); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without the password: %v, want NOAUTH", err)
	}

	withTLS := Redis(t, RedisOptions{TLS: true, Password: "tls-pw"})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(withTLS.CACertPEM) {
		t.Fatal("CACertPEM holds no certificate")
	}
	if err := ping(withTLS, "tls-pw", &tls.Config{RootCAs: pool, ServerName: withTLS.Host}); err != nil {
		t.Fatalf("PING over TLS with the test CA: %v", err)
	}
	if err := ping(withTLS, "tls-pw", &tls.Config{ServerName: withTLS.Host}); err == nil {
		t.Fatal("PING over TLS trusting only the system roots succeeded")
	}
	if err := ping(withTLS, "tls-pw", nil); err == nil {
		t.Fatal("PING in plain text to the TLS port succeeded")
	}
}

func TestRedisStopsAfterTest(t *testing.T) {
	var addr string
	t.Run("start", func(t *testing.T) { addr = Redis(t, RedisOptions{}).Addr() })
	if err := WaitTCP(addr, 0); err == nil {
		t.Fatalf("redis-server at %s still accepts connections after its test ended", addr)
	}
}
