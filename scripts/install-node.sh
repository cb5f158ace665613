#!/usr/bin/env bash
# Installs an official Node binary from the npm package node-linux-<arch>@<major>
# into PREFIX/bin (npm checks the tarball against the registry's integrity
# hash), for running the suite on other Node lines than the machine's own.
#
#   bash scripts/install-node.sh 22 /tmp/node22    # then PATH=/tmp/node22/bin:$PATH
#
# Prints PREFIX/bin on stdout. The npm that runs under it is the machine's own.
set -euo pipefail
major="${1:?usage: install-node.sh MAJOR PREFIX}"
prefix="${2:?usage: install-node.sh MAJOR PREFIX}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "install-node.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
if [[ ! -x "${prefix}/bin/node" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  (cd "${work}" && npm pack --silent "node-linux-${arch}@${major}" >/dev/null)
  tar -xzf "${work}"/node-linux-${arch}-*.tgz -C "${work}" package/bin/node
  install -D -m 0755 "${work}/package/bin/node" "${prefix}/bin/node"
fi
"${prefix}/bin/node" --version >&2
echo "${prefix}/bin"
