#!/usr/bin/env bash
# Fetches the web UI's CSS and JavaScript libraries listed in registry/ui/assets.lock from the
# npm registry (with npm, as it is set up on this machine) into registry/ui/static/vendor/,
# where `go build` embeds them. Each package is checked against its pinned integrity and kept
# in ~/.cache/wharf/npm, so later builds need no network.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=registry/ui/assets.lock
dest=registry/ui/static/vendor
cache=${WHARF_CACHE_DIR:-$HOME/.cache/wharf}/npm
mkdir -p "$dest" "$cache"
while read -r pkg version integrity member name; do
  [[ -z ${pkg:-} || $pkg == \#* ]] && continue
  stamp="$dest/.$name.integrity"
  if [[ -f $dest/$name && -f $stamp && $(cat "$stamp") == "$integrity" ]]; then
    continue
  fi
  tgz="$cache/${pkg//\//-}-$version.tgz"
  if [[ ! -f $tgz ]]; then
    if ! command -v npm >/dev/null; then
      echo "ui-assets: npm is needed to fetch $pkg@$version: apt-get install npm (or run make deps)" >&2
      exit 1
    fi
    tmp=$(mktemp -d)
    echo "ui-assets: fetching $pkg@$version from the npm registry"
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
    mv "$tmp"/*.tgz "$tgz.part"
    rm -rf "$tmp"
    mv "$tgz.part" "$tgz"
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ $got != "$integrity" ]]; then
    echo "ui-assets: $tgz has integrity $got, but $lock pins $integrity: delete the file and run again" >&2
    exit 1
  fi
  tar -xzf "$tgz" -O "package/$member" >"$dest/$name.tmp"
  mv "$dest/$name.tmp" "$dest/$name"
  echo "$integrity" >"$stamp"
  echo "ui-assets: $dest/$name from $pkg@$version"
done <"$lock"
