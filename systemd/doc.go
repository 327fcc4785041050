// Package systemd writes the systemd units that run a Wharf installation's
// containers under Podman, and starts, stops and inspects them over D-Bus.
//
// # Generation
//
// The installer describes each container as a Component and calls Generate with
// Options, which picks one of two flavours (ChooseFlavour decides from the host's
// Podman version):
//
//   - Quadlet (Podman 4.4 and newer): a wharf-NAME.container file per component and a
//     wharf.network file, which Podman's generator turns into services at every
//     daemon-reload. The files use only keys Quadlet knew in Podman 4.4; health
//     checks, Podman secrets, the stop timeout and the log options go through
//     PodmanArgs=. Podman 4.4's Quadlet runs containers with /usr/bin/crun.
//   - Classic (Podman 4.3, e.g. Debian 12): plain services that run `podman run
//     --replace --rm --sdnotify=conmon --cgroups=no-conmon` (Type=notify, so a start
//     finishes when the container runs), stop it with `podman stop` and remove it
//     after, plus a oneshot wharf-network.service that creates the network.
//
// Root installs write to /etc/containers/systemd (Quadlet) or /etc/systemd/system
// (classic) and the units are wanted by multi-user.target; rootless installs write
// to ~/.config/containers/systemd or ~/.config/systemd/user, run under `systemd
// --user`, are wanted by default.target, and need `loginctl enable-linger USER` to
// start at boot without a login.
//
// Output is deterministic and every file starts with Header. Plan.Write replaces
// only files whose content changed (so installing twice changes nothing) and never
// overwrites a file Wharf did not write; Plan.Verify checks the files with Podman's
// Quadlet generator and `systemd-analyze verify` before they are installed.
//
// # Names
//
// For components "registry", "postgres" and "redis" on network "wharf":
//
//	unit                      container        Quadlet file
//	wharf-registry.service    wharf-registry   wharf-registry.container
//	wharf-postgres.service    wharf-postgres   wharf-postgres.container
//	wharf-redis.service       wharf-redis      wharf-redis.container
//	wharf-network.service     -                wharf.network
//
// The Podman network is systemd-wharf in both flavours (Quadlet before Podman 4.7
// cannot name it otherwise); containers reach each other by container name on it.
// Scanner and builder components get wharf-scanner.service and wharf-builder.service
// the same way.
//
// # Logs
//
// Containers log to journald (--log-driver journald, tagged with the container
// name) and the units set SyslogIdentifier=wharf-NAME, so
//
//	journalctl -u wharf-registry.service          # root install
//	journalctl --user -u wharf-registry.service   # rootless install
//
// shows a component's log, and `podman logs wharf-registry` works as well.
//
// # Secrets
//
// Environment values in Component.Env end up in unit files, which are
// world-readable, and `systemctl show` prints them to any user; Generate refuses
// keys that look like secrets (PASSWORD, SECRET, TOKEN, ...) and command-line flags
// that carry one (--requirepass VALUE). Secrets go in an env file named in
// Component.EnvFiles (mode 0600; Podman reads it when the container starts), or in
// a Podman secret named in Component.Secrets.
//
// # Management
//
// Manager is what the installer needs from systemd: daemon-reload, enable, disable,
// start, stop, restart (each waiting for its job's result) and status. New returns
// a Bus that implements it over D-Bus: the system bus (or systemd's private socket
// when no D-Bus daemon is installed) for root, the user's bus for rootless
// installs. On a host without systemd as init, New fails with ErrNoSystemd. A failed
// job is a *JobError that says which `systemctl status` and `journalctl` to run.
package systemd
