package tlsgen

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// ParseSubjects checks the host names and IP addresses a certificate is to name and returns
// them as subjectAltNames: host names in lower case, duplicates dropped, and a host name that
// is an IP address moved to the addresses. A name may start with "*." (a wildcard for one
// label). Names with a port, a scheme or a path are refused with the form to use instead.
func ParseSubjects(hostnames []string, ips []net.IP) (Subjects, error) {
	var s Subjects
	addIP := func(ip net.IP) error {
		if ip.IsUnspecified() {
			return fmt.Errorf("IP address %v: give the address clients connect to, not an unspecified one", ip)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !slices.ContainsFunc(s.IPs, ip.Equal) {
			s.IPs = append(s.IPs, ip)
		}
		return nil
	}
	for _, raw := range hostnames {
		name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(raw), "."))
		if ip := net.ParseIP(strings.Trim(name, "[]")); ip != nil {
			if err := addIP(ip); err != nil {
				return Subjects{}, err
			}
			continue
		}
		if err := checkHostname(name); err != nil {
			return Subjects{}, fmt.Errorf("host name %q: %w", raw, err)
		}
		if !slices.Contains(s.DNSNames, name) {
			s.DNSNames = append(s.DNSNames, name)
		}
	}
	for _, ip := range ips {
		if ip == nil {
			return Subjects{}, fmt.Errorf("an IP address is empty")
		}
		if err := addIP(ip); err != nil {
			return Subjects{}, err
		}
	}
	return s, nil
}

// checkHostname reports what is wrong with a lower-case host name, saying what to give instead.
func checkHostname(name string) error {
	if name == "" {
		return fmt.Errorf("empty: give the name clients use to reach the registry, such as registry.example.com")
	}
	if strings.Contains(name, "://") {
		return fmt.Errorf("give the host name alone, without a scheme (registry.example.com, not https://registry.example.com)")
	}
	if strings.ContainsAny(name, "/?#") {
		return fmt.Errorf("give the host name alone, without a path")
	}
	if h, _, err := net.SplitHostPort(name); err == nil {
		return fmt.Errorf("give the host name without a port (%s): a certificate names hosts, not ports", h)
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for i, label := range labels {
		if label == "*" && i == 0 && len(labels) > 2 {
			continue
		}
		if label == "*" {
			return fmt.Errorf("a wildcard must be the first label of a name with at least two more (*.example.com)")
		}
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel checks one label of a host name: letters, digits and inner hyphens, 1 to 63 of them.
func checkLabel(label string) error {
	if label == "" {
		return fmt.Errorf("has an empty label (two dots in a row, or a leading dot)")
	}
	if len(label) > 63 {
		return fmt.Errorf("label %q is longer than 63 characters", label)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for _, c := range label {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q holds %q: host names have letters, digits, hyphens and dots only", label, c)
		}
	}
	return nil
}
