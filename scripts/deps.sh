#!/usr/bin/env bash
# Installs what Wharf's tests and benchmarks need on a Debian machine, skipping what is there:
# Debian packages (PostgreSQL, skopeo, podman, ...) and Go-built tools (MinIO, crane, oras,
# regctl, the OCI conformance suite, the distribution registry) in $WHARF_TOOLS_DIR.
set -euo pipefail

TOOLS_DIR="${WHARF_TOOLS_DIR:-$HOME/.cache/wharf/bin}"
mkdir -p "$TOOLS_DIR"

# Debian packages: program to look for, package that provides it.
debs=(
  "/usr/lib/postgresql/*/bin/initdb:postgresql"
  "skopeo:skopeo"
  "podman:podman"
  "/usr/lib/podman/netavark:netavark" # the network backend test containers use (not pulled in by podman)
  "/usr/lib/podman/aardvark-dns:aardvark-dns"
  "curl:curl"
  "/usr/sbin/slapd:slapd"
  "chromium:chromium"
  "gcc:gcc" # cgo, for building dex (its SQLite storage)
  "redis-server:redis-server"
  "pebble:pebble" # the ACME test server
  "/usr/sbin/runc:runc" # the runtime test containers run with on the host
  "/usr/sbin/debootstrap:debootstrap" # the test VM's image (make vm-image)
  "/usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring"
  "qemu-system-x86_64:qemu-system-x86" # boots the test VM (make test-vm)
  "qemu-img:qemu-utils"
  "mkfs.ext4:e2fsprogs" # the VM's disks are made with mkfs.ext4 -d, no loop mounts
  "systemd-analyze:systemd" # systemd/ checks generated units with systemd-analyze verify
  "dbus-daemon:dbus-daemon" # systemd/ tests the D-Bus error paths against a real bus
  "rpmbuild:rpm" # the scanner's indexer tests build RPM databases (sqlite and ndb) with rpm itself
  "npm:npm" # the web UI's CSS comes from the npm registry (scripts/ui-assets.sh)
  "openssl:openssl" # scripts/ui-assets.sh checks the packages' integrity
)

# Go tools: binary name, module@version (exact versions: the module proxy serves those).
gotools=(
  "minio:github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
  "crane:github.com/google/go-containerregistry/cmd/crane@v0.22.1"
  "oras:oras.land/oras/cmd/oras@v1.3.6"
  "regctl:github.com/regclient/regclient/cmd/regctl@v0.11.7"
  "conformance:github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111"
  "registry:github.com/distribution/distribution/v3/cmd/registry@v3.1.2"
  # Dex v2.24.0, the newest Dex that go install can build (later ones have a replace directive).
  "dex:github.com/dexidp/dex/cmd/dex@v0.0.0-20200512115545-709d4169d646"
)

have() {
  local pattern=$1
  if [[ $pattern == /* ]]; then
    compgen -G "$pattern" >/dev/null
  else
    command -v "$pattern" >/dev/null || [[ -x "$TOOLS_DIR/$pattern" ]]
  fi
}

missing=()
for entry in "${debs[@]}"; do
  prog=${entry%%:*}
  pkg=${entry##*:}
  have "$prog" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pids=()
names=()
for entry in "${gotools[@]}"; do
  name=${entry%%:*}
  mod=${entry#*:}
  if [[ -x "$TOOLS_DIR/$name" ]] && go version -m "$TOOLS_DIR/$name" 2>/dev/null | grep -q "${mod##*@}"; then
    continue
  fi
  echo "deps: building $name ($mod) into $TOOLS_DIR"
  (cd /tmp && GOBIN="$TOOLS_DIR" GOFLAGS=-buildvcs=false go install "$mod" >"/tmp/wharf-deps-$name.log" 2>&1) &
  pids+=($!)
  names+=("$name")
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "deps: building ${names[$i]} failed:" >&2
    tail -20 "/tmp/wharf-deps-${names[$i]}.log" >&2
    failed=1
  fi
done
exit $failed
