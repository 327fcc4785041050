package tlsgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report prints what Provision wrote and exactly how clients come to trust the CA: podman,
// skopeo and buildah through /etc/containers/certs.d, docker through /etc/docker/certs.d, and
// everything else through the system trust store of Debian-like and RHEL-like hosts.
func (r *Result) Report(w io.Writer) error {
	var b bytes.Buffer
	ca := abs(r.CACertFile)
	if r.CACreated {
		fmt.Fprintf(&b, "Made a new certificate authority %q, valid until %s:\n", r.CAName, r.CANotAfter.Format(time.DateOnly))
		tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
		fmt.Fprintf(tw, "  %s\tthe CA certificate: clients trust this\n", ca)
		fmt.Fprintf(tw, "  %s\tthe CA key (mode 0600): keep it secret; it is reused the next time you run this command\n", abs(r.CAKeyFile))
		tw.Flush()
	} else {
		fmt.Fprintf(&b, "Signed with the certificate authority %q (%s), valid until %s.\n", r.CAName, ca, r.CANotAfter.Format(time.DateOnly))
	}
	fmt.Fprintf(&b, "Wrote the server certificate for %s, valid until %s:\n", strings.Join(r.Subjects.Strings(), ", "), r.NotAfter.Format(time.DateOnly))
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  %s\tthe certificate, then the CA certificate\n", abs(r.CertFile))
	fmt.Fprintf(tw, "  %s\tthe private key (mode 0600)\n", abs(r.KeyFile))
	tw.Flush()
	if r.ServerHostname != "" && !r.names(hostOnly(r.ServerHostname)) {
		fmt.Fprintf(&b, "\nWarning: SERVER_HOSTNAME %s is not among the certificate's names, so clients will refuse it:\n"+
			"run this command again with --hostname %s --force.\n", r.ServerHostname, hostOnly(r.ServerHostname))
	}

	registry, note := r.ServerHostname, ""
	if registry == "" {
		registry = r.Subjects.Strings()[0]
		if net.ParseIP(registry) != nil && strings.Contains(registry, ":") {
			registry = "[" + registry + "]"
		}
		registry += ":PORT"
		note = "    (PORT is the port clients use; leave \":PORT\" out when it is 443. Make one directory per name clients use.)\n"
	}
	fmt.Fprintf(&b, "\nTrust the CA on each machine that talks to the registry:\n")
	for _, c := range []struct{ who, dir string }{
		{"podman, skopeo, buildah, CRI-O", "/etc/containers/certs.d/"},
		{"docker", "/etc/docker/certs.d/"},
	} {
		dir := c.dir + registry
		fmt.Fprintf(&b, "  %s:\n    sudo mkdir -p %s\n    sudo cp %s %s/ca.crt\n", c.who, dir, ca, dir)
	}
	fmt.Fprintf(&b, "%s", note)
	fmt.Fprintf(&b, "  the whole system (curl, browsers, other tools):\n")
	fmt.Fprintf(&b, "    Debian, Ubuntu:       sudo cp %s /usr/local/share/ca-certificates/wharf-ca.crt && sudo update-ca-certificates\n", ca)
	fmt.Fprintf(&b, "    RHEL, Fedora, CentOS: sudo cp %s /etc/pki/ca-trust/source/anchors/wharf-ca.crt && sudo update-ca-trust\n", ca)
	fmt.Fprintf(&b, "\nThen (re)start `wharf serve --config-dir %s`: it serves HTTPS with these files.\n", abs(filepath.Dir(r.CertFile)))
	_, err := w.Write(b.Bytes())
	return err
}

// names reports whether the certificate names this host.
func (r *Result) names(host string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip := net.ParseIP(host); ip != nil {
		return slices.ContainsFunc(r.Subjects.IPs, ip.Equal)
	}
	for _, n := range r.Subjects.DNSNames {
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if _, parent, found := strings.Cut(host, "."); found && parent == rest {
				return true
			}
		}
	}
	return false
}

func abs(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}
