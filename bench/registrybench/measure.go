package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fillRandom fills b with pseudo-random bytes from seed, using every CPU. The generator is
// wyrand: several GB/s per core, so a 1 GiB layer costs a fraction of a second to make. Its
// output depends only on seed and len(b).
func fillRandom(b []byte, seed uint64) {
	const piece = 64 << 20
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for off, i := 0, uint64(0); off < len(b); off, i = off+piece, i+1 {
		end := min(off+piece, len(b))
		wg.Add(1)
		sem <- struct{}{}
		go func(p []byte, s uint64) {
			defer wg.Done()
			wyfill(p, s)
			<-sem
		}(b[off:end], seed^(i*0x9e3779b97f4a7c15))
	}
	wg.Wait()
}

func wyfill(b []byte, s uint64) {
	next := func() uint64 {
		s += 0xa0761d6478bd642f
		hi, lo := bits.Mul64(s, s^0xe7037ed1a0b428db)
		return hi ^ lo
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, next())
		b = b[8:]
	}
	if len(b) > 0 {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], next())
		copy(b, t[:])
	}
}

// sha256Speed measures single-core crypto/sha256 throughput in bytes per second: samples
// times, it hashes buf (repeatedly, so that each sample covers at least minBytes). Other work
// on the machine can only slow a sample down, so the best one is the machine's speed.
func sha256Speed(buf []byte, samples int, minBytes int64) []float64 {
	reps := max(1, int((minBytes+int64(len(buf))-1)/int64(len(buf))))
	var out []float64
	for range samples {
		h := sha256.New()
		start := time.Now()
		for range reps {
			h.Write(buf)
		}
		h.Sum(nil)
		out = append(out, float64(int64(len(buf))*int64(reps))/time.Since(start).Seconds())
	}
	return out
}

// median returns the middle value (the mean of the two middle values for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// selfCPU returns the CPU time (user plus system) the benchmark process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// systemCPU returns the busy (not idle, not waiting for I/O) and stolen CPU time of the whole
// machine from /proc/stat, to tell how much else ran during a measurement.
func systemCPU() (busy, steal time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseProcStatTotal(line)
}

// parseProcStatTotal reads the "cpu  user nice system idle iowait irq softirq steal ..." line.
func parseProcStatTotal(line string) (busy, steal time.Duration, err error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var v [8]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
		}
	}
	// user, nice and system count as busy; idle, iowait and steal do not, nor do irq and
	// softirq: the kernel charges interrupt work (such as the loopback network traffic of
	// the benchmark itself) to no process, so it would look like other work.
	busy = time.Duration(v[0]+v[1]+v[2]) * clockTick
	return busy, time.Duration(v[7]) * clockTick, nil
}

// cpuMeter reads, at two moments, the CPU time of a server, of the benchmark and of the
// whole machine.
type cpuMeter struct {
	p                           *process
	server, client, busy, steal time.Duration
}

func startCPU(p *process) (*cpuMeter, error) {
	s, err := p.cpuTime()
	if err != nil {
		return nil, err
	}
	busy, steal, err := systemCPU()
	if err != nil {
		return nil, err
	}
	return &cpuMeter{p: p, server: s, client: selfCPU(), busy: busy, steal: steal}, nil
}

// cpuUse is the CPU time used during a measurement.
type cpuUse struct {
	// Server and Client are the registry's and the benchmark's CPU time.
	Server, Client time.Duration
	// Other is what the rest of the machine used (other processes, kernel threads): noise.
	Other time.Duration
	// Steal is time the hypervisor gave to other guests.
	Steal time.Duration
}

// since returns the CPU time used since the meter started.
func (m *cpuMeter) since() (cpuUse, error) {
	s, err := m.p.cpuTime()
	if err != nil {
		return cpuUse{}, err
	}
	busy, steal, err := systemCPU()
	if err != nil {
		return cpuUse{}, err
	}
	u := cpuUse{Server: s - m.server, Client: selfCPU() - m.client, Steal: steal - m.steal}
	u.Other = max(0, busy-m.busy-u.Server-u.Client)
	return u, nil
}

// loadResult is the outcome of a manifest GET load run.
type loadResult struct {
	Run        int     `json:"run"`
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Requests   int64   `json:"requests_200"`
	RPS        float64 `json:"requests_per_second"`
	P50Micros  float64 `json:"latency_p50_us"`
	P90Micros  float64 `json:"latency_p90_us"`
	P99Micros  float64 `json:"latency_p99_us"`
	MaxMicros  float64 `json:"latency_max_us"`
	ServerCPU  float64 `json:"server_cpu_seconds"`
	ClientCPU  float64 `json:"client_cpu_seconds"`
	OtherCPU   float64 `json:"other_cpu_seconds"`
	StealCPU   float64 `json:"steal_cpu_seconds"`
	CPUPerReqU float64 `json:"server_cpu_us_per_request"`
}

// manifestLoad runs clients goroutines that GET the manifest by tag in a loop over keep-alive
// connections of one shared transport. Requests completing during warmup are not counted;
// then, for dur, every 200 response with exactly the expected body counts. Any other
// response or error ends the run with an error.
func manifestLoad(ctx context.Context, c *registryClient, p *process, tag string, want []byte, clients int, warmup, dur time.Duration) (loadResult, error) {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        clients * 2,
		MaxIdleConnsPerHost: clients * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u := c.url("/v2/" + c.repo + "/manifests/" + tag)
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+c.bearer)
	hdr.Set("Accept", manifestAccept)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}

	start := time.Now().Add(warmup)
	end := start.Add(dur)
	counts := make([]int64, clients)
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body bytes.Buffer
			lat := make([]time.Duration, 0, 1<<14)
			defer func() { lats[i] = lat }()
			for {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				req.Header = hdr.Clone()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(fmt.Errorf("%s: GET manifest: %w", c.name, err))
					}
					return
				}
				body.Reset()
				_, err = body.ReadFrom(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if err != nil {
					if ctx.Err() == nil {
						fail(fmt.Errorf("%s: GET manifest: read body: %w", c.name, err))
					}
					return
				}
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Errorf("%s: GET manifest: %s: %s", c.name, resp.Status, bytes.TrimSpace(body.Bytes())))
					return
				}
				if !bytes.Equal(body.Bytes(), want) {
					fail(fmt.Errorf("%s: GET manifest: 200 with unexpected body (%d bytes, want %d)", c.name, body.Len(), len(want)))
					return
				}
				t1 := time.Now()
				if !t1.Before(end) {
					return
				}
				if !t1.Before(start) {
					counts[i]++
					lat = append(lat, t1.Sub(t0))
				}
			}
		}()
	}

	// Read CPU times at the edges of the measured window.
	var meter *cpuMeter
	var use cpuUse
	var meterErr error
	select {
	case <-time.After(time.Until(start)):
		meter, meterErr = startCPU(p)
	case <-ctx.Done():
	}
	select {
	case <-time.After(time.Until(end)):
		if meter != nil {
			use, meterErr = meter.since()
		}
	case <-ctx.Done():
	}
	wg.Wait()
	if firstErr != nil {
		return loadResult{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	if meterErr != nil {
		return loadResult{}, meterErr
	}
	if err := p.alive(); err != nil {
		return loadResult{}, err
	}

	var total int64
	var all []time.Duration
	for i := range clients {
		total += counts[i]
		all = append(all, lats[i]...)
	}
	if total == 0 {
		return loadResult{}, fmt.Errorf("%s: no manifest GET completed in the %s window", c.name, dur)
	}
	slices.Sort(all)
	q := func(f float64) float64 {
		return float64(all[min(len(all)-1, int(f*float64(len(all))))]) / float64(time.Microsecond)
	}
	return loadResult{
		Clients:    clients,
		Seconds:    dur.Seconds(),
		Requests:   total,
		RPS:        float64(total) / dur.Seconds(),
		P50Micros:  q(0.50),
		P90Micros:  q(0.90),
		P99Micros:  q(0.99),
		MaxMicros:  float64(all[len(all)-1]) / float64(time.Microsecond),
		ServerCPU:  use.Server.Seconds(),
		ClientCPU:  use.Client.Seconds(),
		OtherCPU:   use.Other.Seconds(),
		StealCPU:   use.Steal.Seconds(),
		CPUPerReqU: use.Server.Seconds() / float64(total) * 1e6,
	}, nil
}

// warmPageCache writes n bytes (from data, repeatedly) to a scratch file in dir and deletes
// it before any of it reaches the disk. Right after, the page cache has that much memory to
// reuse that has been touched recently. This matters in virtual machines with free page
// reporting (virtio-balloon): memory the guest frees is handed back to the host within
// seconds, and the next first touch of it costs a host fault. On this benchmark's VM that made
// writing 1 GiB into the page cache take 2-3 s instead of 0.3 s, for either registry, which
// would hide the registries' own costs; real hardware has no such cost.
func warmPageCache(dir string, n int64, data []byte) error {
	f, err := os.CreateTemp(dir, "registrybench-warm-")
	if err != nil {
		return fmt.Errorf("warm page cache: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	chunk := data[:min(len(data), 16<<20)]
	for left := n; left > 0; {
		k := min(left, int64(len(chunk)))
		if _, err := f.Write(chunk[:k]); err != nil {
			return fmt.Errorf("warm page cache: %w", err)
		}
		left -= k
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("warm page cache: %w", err)
	}
	return nil
}

// diskSpeed measures durable writes to dir: data written to a new file and fsynced, in bytes
// per second. Registries that fsync pushed blobs (both do) cannot push faster than this.
func diskSpeed(dir string, data []byte) (float64, error) {
	f, err := os.CreateTemp(dir, "registrybench-disk-")
	if err != nil {
		return 0, fmt.Errorf("disk speed: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	start := time.Now()
	if _, err := f.Write(data); err != nil {
		return 0, fmt.Errorf("disk speed: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("disk speed: %w", err)
	}
	return float64(len(data)) / time.Since(start).Seconds(), nil
}

// quietness is the largest share of the machine's CPUs that other work may use for the
// machine to count as quiet before a measurement.
const quietness = 0.15

// waitQuiet waits, up to maxWait, until the machine's CPUs are mostly idle over a short
// sample (the benchmark's own servers idle between measurements, so what is busy then is
// other work). It reports the share that was busy in the last sample and whether it was
// quiet; on a shared machine this keeps measurements out of other people's bursts.
func waitQuiet(ctx context.Context, maxWait time.Duration) (float64, bool, error) {
	deadline := time.Now().Add(maxWait)
	for {
		b0, s0, err := systemCPU()
		if err != nil {
			return 0, false, err
		}
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		b1, s1, err := systemCPU()
		if err != nil {
			return 0, false, err
		}
		busy := float64((b1-b0)+(s1-s0)) / float64(time.Since(t0)*time.Duration(runtime.NumCPU()))
		if busy <= quietness {
			return busy, true, nil
		}
		if time.Now().After(deadline) {
			return busy, false, nil
		}
	}
}
