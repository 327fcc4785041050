package tlsgen

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSubjects(t *testing.T) {
	tests := []struct {
		name      string
		hostnames []string
		ips       []string
		wantDNS   []string
		wantIPs   []string
		wantErr   string
	}{
		{"names and addresses", []string{"Registry.Example.com", "registry", "*.apps.example.com"}, []string{"10.0.0.5", "fd00::1"},
			[]string{"registry.example.com", "registry", "*.apps.example.com"}, []string{"10.0.0.5", "fd00::1"}, ""},
		{"duplicates dropped", []string{"a.example", "A.EXAMPLE", "a.example."}, []string{"10.0.0.5", "::ffff:10.0.0.5"},
			[]string{"a.example"}, []string{"10.0.0.5"}, ""},
		{"address given as a host name", []string{"192.168.1.2", "[fd00::2]"}, nil, nil, []string{"192.168.1.2", "fd00::2"}, ""},
		{"nothing", nil, nil, nil, nil, ""},
		{"port", []string{"registry.example.com:8443"}, nil, nil, nil, "without a port (registry.example.com)"},
		{"scheme", []string{"https://registry.example.com"}, nil, nil, nil, "without a scheme"},
		{"path", []string{"registry.example.com/v2"}, nil, nil, nil, "without a path"},
		{"empty", []string{" "}, nil, nil, nil, "empty"},
		{"underscore", []string{"my_registry.example.com"}, nil, nil, nil, `holds '_'`},
		{"leading hyphen", []string{"-bad.example"}, nil, nil, nil, "hyphen"},
		{"empty label", []string{"a..example"}, nil, nil, nil, "empty label"},
		{"wildcard too wide", []string{"*.com"}, nil, nil, nil, "wildcard"},
		{"wildcard inside", []string{"a.*.example.com"}, nil, nil, nil, "wildcard"},
		{"long label", []string{strings.Repeat("a", 64) + ".example"}, nil, nil, nil, "longer than 63"},
		{"unspecified address", nil, []string{"0.0.0.0"}, nil, nil, "unspecified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ips []net.IP
			for _, s := range tc.ips {
				ips = append(ips, net.ParseIP(s))
			}
			got, err := ParseSubjects(tc.hostnames, ips)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotIPs []string
			for _, ip := range got.IPs {
				gotIPs = append(gotIPs, ip.String())
			}
			if !slices.Equal(got.DNSNames, tc.wantDNS) || !slices.Equal(gotIPs, tc.wantIPs) {
				t.Errorf("got %v %v, want %v %v", got.DNSNames, gotIPs, tc.wantDNS, tc.wantIPs)
			}
		})
	}
}

// FuzzParseSubjects feeds arbitrary host names: whatever ParseSubjects accepts goes into a
// certificate that verifies for each accepted name.
func FuzzParseSubjects(f *testing.F) {
	for _, s := range []string{"registry.example.com", "*.example.com", "10.0.0.1", "[::1]", "a:1", "-x", "xn--bcher-kva.example", "a..b", "UPPER.case."} {
		f.Add(s)
	}
	ca, err := NewCA("fuzz CA", ECDSA, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s, err := ParseSubjects([]string{name}, nil)
		if err != nil || s.Empty() {
			return
		}
		issued, err := ca.Issue(s, ECDSA, time.Minute)
		if err != nil {
			t.Fatalf("accepted %q but cannot certify it: %v", name, err)
		}
		for _, n := range s.Strings() {
			check := n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				check = "x." + rest
			}
			if err := issued.Cert.VerifyHostname(check); err != nil {
				t.Fatalf("accepted %q as %q, but the certificate does not verify for %q: %v", name, n, check, err)
			}
		}
	})
}
