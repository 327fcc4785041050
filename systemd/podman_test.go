package systemd

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/systemd/parser"
)

// TestClassicCommandsWithPodman runs the commands of the classic units with this
// host's podman (4.3.1 on Debian 12, the release classic units exist for), changed
// only so that they touch nothing: the container gets a name of its own and the
// image one that does not exist, with --pull=never. Podman must get as far as
// looking the image up, so every flag the unit passes exists in that release; the
// stop commands must succeed on a container that is not there; the network unit's
// command must create the network and succeed again when it exists.
func TestClassicCommandsWithPodman(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Fatal("podman is not installed: run scripts/deps.sh")
	}
	suffix := fmt.Sprintf("flagcheck-%d", time.Now().UnixNano())
	plan, err := Generate(Options{Flavour: Classic, UnitDir: t.TempDir(), PodmanPath: podman}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	network := PodmanNetworkName("wharf")
	images := map[string]string{}
	for _, c := range wharfComponents() {
		images[UnitName(c.Name)] = c.Image
	}
	for _, f := range plan.Files {
		u := parser.NewUnitFile()
		if err := u.Parse(string(f.Content)); err != nil {
			t.Fatal(err)
		}
		argv := func(key string) []string {
			words, ok, err := u.LookupLastArgs("Service", key)
			if err != nil || !ok {
				t.Fatalf("%s: no %s: %v", f.Name, key, err)
			}
			for i, w := range words {
				w = unescapeSystemd(w)
				w = strings.ReplaceAll(w, network, network+"-"+suffix)
				w = strings.ReplaceAll(w, "wharf.network=wharf", "wharf.network="+suffix)
				if strings.HasPrefix(w, "wharf-") && !strings.Contains(w, ".") {
					w += "-" + suffix // container names
				}
				words[i] = w
			}
			words[0] = strings.TrimPrefix(words[0], "-") // "ignore failure" prefix
			return words
		}
		if f.Unit == NetworkUnitName("wharf") {
			cmd := argv("ExecStart")
			t.Cleanup(func() { exec.Command(podman, "network", "rm", "--force", network+"-"+suffix).Run() })
			for range 2 {
				if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%s: %q: %v\n%s", f.Name, cmd, err, out)
				}
			}
			continue
		}
		run := argv("ExecStart")
		image := slices.Index(run, images[f.Unit])
		if image < 0 {
			t.Fatalf("%s: no image in %q", f.Name, run)
		}
		run[image] = "localhost/wharf-" + suffix + ":0"
		run = slices.Insert(run, 2, "--pull=never")
		out, err := exec.Command(run[0], run[1:]...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "image not known") {
			t.Errorf("%s: podman did not get to the image lookup: %v\n%s\nargv: %q", f.Name, err, out, run)
		}
		for _, key := range []string{"ExecStop", "ExecStopPost"} {
			cmd := argv(key)
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%s: %s %q: %v\n%s", f.Name, key, cmd, err, out)
			}
		}
	}
}
