package installer

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/wharf-registry/wharf/images"
	"github.com/wharf-registry/wharf/systemd"
)

// Component names of an installation, in start order.
var componentNames = []string{"postgres", "redis", "registry"}

// networkName is the Podman network the components share (systemd-wharf in Podman).
const networkName = "wharf"

// components returns the containers of the installation the state describes: PostgreSQL
// and Redis on the installation's network, reached by container name and never published
// on the host, and the registry that requires both, published on the state's port.
func components(st *State) []systemd.Component {
	l := st.Layout()
	def := images.Defaults("")
	return []systemd.Component{
		{
			Name:     "postgres",
			Image:    st.Images["postgres"],
			Command:  def.Postgres.Args,
			Env:      map[string]string{def.Postgres.UserEnv: dbUser, def.Postgres.DatabaseEnv: dbName},
			EnvFiles: []string{l.PostgresEnv()},
			Volumes:  []systemd.Volume{{HostPath: l.DataPath("postgres"), ContainerPath: def.Postgres.DataDir, Options: []string{"Z"}}},
			Network:  networkName,
			Health: &systemd.Health{Shell: "pg_isready -U " + dbUser + " -d " + dbName,
				Interval: 30 * time.Second, Timeout: 10 * time.Second, StartPeriod: time.Minute},
			StopTimeout: time.Minute,
		},
		{
			Name:    "redis",
			Image:   st.Images["redis"],
			Command: []string{"redis-server", RedisConfigMount + "/redis.conf"},
			Volumes: []systemd.Volume{
				{HostPath: l.RedisConfigDir(), ContainerPath: RedisConfigMount, Options: []string{"Z", "ro"}},
				{HostPath: l.DataPath("redis"), ContainerPath: def.Redis.DataDir, Options: []string{"Z"}},
			},
			Network: networkName,
		},
		{
			Name:  "registry",
			Image: st.Images["registry"],
			// PostgreSQL may still be starting (its first start initialises the cluster).
			Command: append(slices.Clone(def.Registry.Args), "--db-wait", "3m"),
			Ports:   []systemd.Port{{Host: uint16(st.Port), Container: uint16(def.Registry.Port)}},
			Volumes: []systemd.Volume{
				{HostPath: l.RegistryConfigDir(), ContainerPath: def.Registry.ConfigDir, Options: []string{"Z", "ro"}},
				{HostPath: l.DataPath("registry"), ContainerPath: def.Registry.DataDir, Options: []string{"Z"}},
			},
			Network:  networkName,
			Requires: []string{"postgres", "redis"},
			Health: &systemd.Health{
				Cmd:         []string{"wharf", "health", "--url", "https://127.0.0.1:" + strconv.Itoa(def.Registry.Port) + HealthPath},
				Interval:    30 * time.Second,
				Timeout:     10 * time.Second,
				StartPeriod: 2 * time.Minute,
			},
			User: def.Registry.User,
		},
	}
}

// unitPlan returns the unit files for the state.
func unitPlan(st *State) (*systemd.Plan, error) {
	plan, err := systemd.Generate(systemd.Options{Flavour: systemd.Flavour(st.Flavour), Rootless: st.Rootless, UnitDir: st.UnitDir}, components(st))
	if err != nil {
		return nil, fmt.Errorf("generating the systemd units: %w", err)
	}
	return plan, nil
}
