#!/usr/bin/env bash
# Makes a Node base image locally, for machines that reach Debian's mirror and
# the npm registry but no image registry (Docker Hub's node:20-bookworm-slim is
# what the Dockerfile uses elsewhere). Debian bookworm from debootstrap
# (minbase), Node from the npm package node-linux-<arch>@<major>, npm from the
# npm package npm, an unprivileged "node" user with uid/gid 1000 like the
# official image; then `docker import`.
#
#   bash scripts/make-node-base-image.sh [TAG]      # default vcs-agent-base/node:20-bookworm
#   NODE_MAJOR=22 bash scripts/make-node-base-image.sh local/node:22-bookworm
#
# Needs root (debootstrap), docker, and network access to the mirror and npm.
# Prints the tag on stdout; progress goes to stderr. An existing tag is kept
# (REBUILD=1 rebuilds it).
set -euo pipefail

node_major="${NODE_MAJOR:-20}"
tag="${1:-vcs-agent-base/node:${node_major}-bookworm}"
mirror="${DEBIAN_MIRROR:-}"
if [[ -z "${mirror}" ]]; then
  # The machine's own apt mirror (deb822 or one-line sources), else Debian's CDN.
  mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n 1 || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi

if [[ "${REBUILD:-0}" != 1 ]] && docker image inspect "${tag}" >/dev/null 2>&1; then
  echo "${tag} exists (REBUILD=1 to make it again)" >&2
  echo "${tag}"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "make-node-base-image.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
root="${work}/rootfs"

echo "== debootstrap bookworm (minbase) from ${mirror}" >&2
debootstrap --variant=minbase bookworm "${root}" "${mirror}" >"${work}/debootstrap.log" 2>&1 \
  || { tail -n 30 "${work}/debootstrap.log" >&2; exit 1; }

echo "== node ${node_major} and npm from the npm registry" >&2
# npm pack checks each tarball against the registry's integrity hash.
(cd "${work}" && npm pack --silent "node-linux-${arch}@${node_major}" >/dev/null)
tar -xzf "${work}"/node-linux-${arch}-*.tgz -C "${work}" package/bin/node package/LICENSE
install -m 0755 "${work}/package/bin/node" "${root}/usr/local/bin/node"
install -D -m 0644 "${work}/package/LICENSE" "${root}/usr/local/share/doc/node/LICENSE"
rm -rf "${work}/package"
npm_version="$("${root}/usr/local/bin/node" -p 'process.versions.node.split(".")[0] >= 22 ? "11" : "10"')"
(cd "${work}" && npm pack --silent "npm@${npm_version}" >/dev/null)
mkdir -p "${root}/usr/local/lib/node_modules/npm"
tar -xzf "${work}"/npm-*.tgz -C "${root}/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "${root}/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "${root}/usr/local/bin/npx"

echo "== user node (1000:1000), trimming" >&2
chroot "${root}" groupadd --gid 1000 node
chroot "${root}" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# What a container never uses: package caches and lists, docs, man pages, locales.
rm -rf "${root}"/var/cache/apt/* "${root}"/var/lib/apt/lists/* "${root}"/var/log/* \
  "${root}"/usr/share/doc/* "${root}"/usr/share/man/* "${root}"/usr/share/info/* \
  "${root}"/usr/share/locale/* "${root}"/tmp/* "${root}"/root/.npm
# The host's trust store, so that npm inside a build reaches the registry
# through the same TLS-intercepting egress proxy the host uses (if any). Only
# public CA certificates; this base is for local builds and tests, releases
# build on Docker Hub's node image.
bundle=/etc/ssl/certs/ca-certificates.crt
if [[ -s "${bundle}" ]]; then
  install -D -m 0644 "${bundle}" "${root}/usr/local/share/ca-certificates-host/ca-certificates.crt"
  ca_env='ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates-host/ca-certificates.crt'
else
  ca_env='LABEL org.opencontainers.image.description=node'
fi
"${root}/usr/local/bin/node" --version >&2

echo "== docker import ${tag}" >&2
tar -C "${root}" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "${ca_env}" \
  --change 'CMD ["node"]' \
  - "${tag}" >/dev/null
echo "${tag}"
