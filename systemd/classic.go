package systemd

import (
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// stopMargin is how much longer than the container's stop timeout systemd waits
// for a stop before it kills what is left.
const stopMargin = 60 * time.Second

// classicContainer writes a plain service running `podman run` for Podman 4.3, in
// the manner of `podman generate systemd --new`: conmon stays in the service's
// cgroup and reports readiness (--sdnotify=conmon, Type=notify), the container is
// replaced if a stale one has the name, and removed when the service stops. The
// unit waits for the mounts holding its volumes.
func classicContainer(opts Options, c Component) File {
	name := ContainerName(c.Name)

	var o []*unit.UnitOption
	u := section{"Unit", &o}
	u.set("Description", c.Description)
	var requires, after []string
	if !opts.Rootless {
		u.set("Wants", "network-online.target")
		after = append(after, "network-online.target")
	}
	if c.Network != "" {
		requires = append(requires, NetworkUnitName(c.Network))
		after = append(after, NetworkUnitName(c.Network))
	}
	requires = append(requires, unitNames(c.Requires)...)
	after = append(after, unitNames(c.After)...)
	if len(requires) > 0 {
		u.set("Requires", strings.Join(requires, " "))
	}
	u.set("After", strings.Join(after, " "))
	mounts := []string{"%t/containers"}
	for _, v := range c.Volumes {
		if strings.HasPrefix(v.HostPath, "/") {
			mounts = append(mounts, v.HostPath)
		}
	}
	u.set("RequiresMountsFor", strings.Join(mounts, " "))

	run := new(command).raw(opts.PodmanPath, "run").
		brk().raw("--name", name).
		brk().raw("--replace").
		brk().raw("--rm").
		brk().raw("--detach").
		brk().raw("--sdnotify=conmon").
		brk().raw("--cgroups=no-conmon").
		brk().raw("--log-driver", "journald").
		brk().raw("--log-opt", "tag="+name).
		brk().raw("--label", "wharf.component="+c.Name).
		brk().raw("--stop-timeout", seconds(c.StopTimeout))
	if c.Network != "" {
		run.brk().raw("--network", PodmanNetworkName(c.Network))
	}
	for _, p := range c.Ports {
		run.brk().raw("--publish", p.spec())
	}
	for _, v := range c.Volumes {
		run.brk().raw("--volume").arg(v.spec())
	}
	if c.User != "" {
		run.brk().raw("--user", c.User)
	}
	for _, key := range sortedKeys(c.Env) {
		run.brk().raw("--env").arg(key + "=" + c.Env[key])
	}
	for _, f := range c.EnvFiles {
		run.brk().raw("--env-file").arg(f)
	}
	for _, s := range c.Secrets {
		run.brk().raw("--secret").arg(s.Name + ",type=env,target=" + s.Env)
	}
	for _, h := range healthArgs(c.Health) {
		run.brk().raw(h[0]).arg(h[1:]...)
	}
	run.brk().raw(c.Image).arg(c.Command...)

	stopT := seconds(c.StopTimeout)
	s := section{"Service", &o}
	s.set("Environment", "PODMAN_SYSTEMD_UNIT=%n")
	s.set("Type", "notify")
	s.set("NotifyAccess", "all")
	s.set("Restart", c.Restart)
	s.set("RestartSec", "5")
	s.set("TimeoutStartSec", seconds(c.StartTimeout))
	s.set("TimeoutStopSec", seconds(c.StopTimeout+stopMargin))
	s.set("KillMode", "mixed")
	s.set("ExecStart", run.lines())
	// By name, not --cidfile: Podman 4.3 fails on a missing cidfile even with --ignore.
	s.set("ExecStop", new(command).raw(opts.PodmanPath, "stop", "--ignore", "--time", stopT, name).line())
	s.set("ExecStopPost", new(command).raw("-"+opts.PodmanPath, "rm", "--force", "--ignore", "--time", stopT, name).line())
	s.set("SyslogIdentifier", name)

	i := section{"Install", &o}
	i.set("WantedBy", wantedBy(opts))

	return File{
		Name:    UnitName(c.Name),
		Unit:    UnitName(c.Name),
		Content: render(o),
	}
}

// classicNetwork writes a oneshot service that creates the Podman network if it is
// missing (Podman 4.3's `network create` has no --ignore). It leaves the network in
// place when stopped: `wharf uninstall` removes it.
func classicNetwork(opts Options, network string) File {
	pod := opts.PodmanPath // validated: no characters that need quoting
	name := PodmanNetworkName(network)
	script := pod + " network exists " + name + " || " +
		pod + " network create --label wharf.network=" + network + " " + name

	var o []*unit.UnitOption
	u := section{"Unit", &o}
	u.set("Description", "Wharf network "+network+" (Podman network "+name+")")
	if !opts.Rootless {
		u.set("Wants", "network-online.target")
		u.set("After", "network-online.target")
	}
	u.set("RequiresMountsFor", "%t/containers")

	s := section{"Service", &o}
	s.set("Type", "oneshot")
	s.set("RemainAfterExit", "yes")
	s.set("ExecStart", new(command).raw("/bin/sh", "-c").arg(script).line())
	s.set("SyslogIdentifier", strings.TrimSuffix(NetworkUnitName(network), ".service"))

	return File{
		Name:    NetworkUnitName(network),
		Unit:    NetworkUnitName(network),
		Content: render(o),
	}
}
