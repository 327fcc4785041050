// Package ratelimit limits requests per client address with token buckets: a client may
// burst up to Burst requests and then make PerSecond requests per second; excess requests
// get 429 Too Many Requests with Retry-After.
package ratelimit

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter limits requests per client address.
type Limiter struct {
	perSecond rate.Limit
	burst     int
	// Respond writes the refusal; nil writes a plain 429.
	Respond func(w http.ResponseWriter, r *http.Request, retryAfter time.Duration)

	mu      sync.Mutex
	clients map[string]*client
	sweep   time.Time
}

type client struct {
	limiter *rate.Limiter
	seen    time.Time
}

// New returns a limiter.
func New(perSecond float64, burst int) *Limiter {
	return &Limiter{perSecond: rate.Limit(perSecond), burst: burst, clients: map[string]*client{}}
}

// Allow takes a token for the address, or says how long until one is available.
func (l *Limiter) Allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		for k, c := range l.clients {
			if now.Sub(c.seen) > 10*time.Minute {
				delete(l.clients, k)
			}
		}
		l.sweep = now
	}
	c := l.clients[addr]
	if c == nil {
		c = &client{limiter: rate.NewLimiter(l.perSecond, l.burst)}
		l.clients[addr] = c
	}
	c.seen = now
	res := c.limiter.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// Wrap limits next.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		ok, wait := l.Allow(host, time.Now())
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		if l.Respond != nil {
			l.Respond(w, r, wait)
			return
		}
		http.Error(w, "too many requests: slow down and retry after the Retry-After seconds", http.StatusTooManyRequests)
	})
}
