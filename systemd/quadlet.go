package systemd

import (
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// quadletContainer writes a Quadlet .container file. It uses only keys that Quadlet
// knows since Podman 4.4 (the oldest Quadlet): health checks and log options go
// through PodmanArgs=, because HealthCmd= and LogDriver= came in 4.5, and an unknown
// key makes Quadlet drop the whole unit.
func quadletContainer(opts Options, c Component) File {
	var o []*unit.UnitOption
	u := section{"Unit", &o}
	u.set("Description", c.Description)
	if !opts.Rootless {
		// Rootless Quadlet (Podman 5) waits for the network itself.
		u.set("Wants", "network-online.target")
		u.set("After", "network-online.target")
	}
	if len(c.Requires) > 0 {
		u.set("Requires", strings.Join(unitNames(c.Requires), " "))
	}
	if len(c.After) > 0 {
		u.set("After", strings.Join(unitNames(c.After), " "))
	}

	k := section{"Container", &o}
	k.set("Image", c.Image)
	k.set("ContainerName", ContainerName(c.Name))
	k.set("Label", "wharf.component="+c.Name)
	if len(c.Command) > 0 {
		k.set("Exec", new(command).arg(c.Command...).line())
	}
	for _, key := range sortedKeys(c.Env) {
		k.set("Environment", quoteWord(key+"="+c.Env[key]))
	}
	for _, f := range c.EnvFiles {
		k.set("EnvironmentFile", f)
	}
	if c.Network != "" {
		k.set("Network", c.Network+".network")
	}
	for _, p := range c.Ports {
		k.set("PublishPort", p.spec())
	}
	for _, v := range c.Volumes {
		k.set("Volume", v.spec())
	}
	if c.User != "" {
		uid, gid, hasGID := strings.Cut(c.User, ":")
		k.set("User", uid)
		if hasGID {
			k.set("Group", gid)
		}
	}
	for _, s := range c.Secrets {
		k.set("PodmanArgs", new(command).arg("--secret", s.Name+",type=env,target="+s.Env).line())
	}
	for _, h := range healthArgs(c.Health) {
		k.set("PodmanArgs", new(command).arg(h...).line())
	}
	k.set("PodmanArgs", "--stop-timeout "+seconds(c.StopTimeout))
	k.set("PodmanArgs", "--log-driver journald --log-opt tag="+ContainerName(c.Name))

	s := section{"Service", &o}
	s.set("Restart", c.Restart)
	s.set("RestartSec", "5")
	s.set("TimeoutStartSec", seconds(c.StartTimeout))
	s.set("TimeoutStopSec", seconds(c.StopTimeout+stopMargin))
	s.set("SyslogIdentifier", ContainerName(c.Name))

	i := section{"Install", &o}
	i.set("WantedBy", wantedBy(opts))

	return File{
		Name:    Prefix + c.Name + ".container",
		Unit:    UnitName(c.Name),
		Content: render(o),
	}
}

// quadletNetwork writes a Quadlet .network file; Quadlet names the service
// NAME-network.service and the Podman network systemd-NAME.
func quadletNetwork(network string) File {
	var o []*unit.UnitOption
	u := section{"Unit", &o}
	u.set("Description", "Wharf network "+network+" (Podman network "+PodmanNetworkName(network)+")")
	n := section{"Network", &o}
	n.set("Label", "wharf.network="+network)
	return File{
		Name:    network + ".network",
		Unit:    NetworkUnitName(network),
		Content: render(o),
	}
}

// wantedBy is the target that pulls the units in at boot.
func wantedBy(opts Options) string {
	if opts.Rootless {
		return "default.target"
	}
	return "multi-user.target"
}
