#!/usr/bin/env bash
# Builds every release artifact locally into dist/release/, the same steps the
# release workflow (.github/workflows/release.yml) runs from a tag, minus the
# publishing:
#   vcs-agent-<version>.tgz                 npm package (npm pack; prepack builds dist/)
#   chart/vcs-agent-<chart version>.tgz, chart/vcs-gateway-<chart version>.tgz, chart/index.yaml   packaged Helm charts + chart repository index
#   vcs-agent-linux-x64, vcs-agent-linux-arm64  standalone executables (Node SEA)
#   vcs-agent-image-<version>-linux-amd64.tar   the container image (docker save), when a Docker engine answers
#   SHA256SUMS                              checksums of all of the above
#
#   npm run release:dry
#   CHART_REPO_URL=https://charts.example.com npm run release:dry
#   NODE_IMAGE=node:20-bookworm-slim npm run release:dry   # base for the image (default: made locally)
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/release
version="$(node -p 'require("./package.json").version')"
chart_url="${CHART_REPO_URL:-https://vcs-agent.example.com/charts}"

echo "== versions agree (package.json, chart, AGENT_VERSION, CHANGELOG)"
npx tsx scripts/release-versions.ts

echo "== npm package"
# prepack rebuilds dist/ from scratch (tsup clean), so pack first, then make ${out}.
packed="$(mktemp -d)"
npm pack --silent --pack-destination "${packed}" >/dev/null
rm -rf "${out}"
mkdir -p "${out}/chart"
mv "${packed}/vcs-agent-${version}.tgz" "${out}/"
rmdir "${packed}"

echo "== Helm chart and repository index"
eval "$(npx tsx scripts/kubernetes-tools.ts)"
helm_env=(env HELM_CACHE_HOME="$(mktemp -d)" HELM_CONFIG_HOME="$(mktemp -d)" HELM_DATA_HOME="$(mktemp -d)" KUBECONFIG=/dev/null)
for chart in charts/*/; do
  lint_values=()
  # Each chart renders only with its required values (the install lines of docs/helm.md and docs/helm-gateway.md).
  case "${chart}" in
    charts/vcs-agent/) lint_values=(--set "credentials.token=<TOKEN>,credentials.endpoint=https://gitlab.example.com,credentials.vendor=gitlab") ;;
    charts/vcs-gateway/) lint_values=(--set "gatewayUrl=https://vcs-gateway.example.com:8443,redis.url=redis://redis.example.internal:6379/0"
      --set "admin.token=<ADMIN_TOKEN_AT_LEAST_16_CHARACTERS>,frontDoor.token=<FRONT_DOOR_TOKEN_AT_LEAST_16_CHARACTERS>,peer.token=<PEER_TOKEN_AT_LEAST_16_CHARACTERS>") ;;
  esac
  "${helm_env[@]}" "${HELM_BIN}" lint --strict "${chart}" "${lint_values[@]}" >/dev/null
  "${helm_env[@]}" "${HELM_BIN}" package "${chart}" --destination "${out}/chart" >/dev/null
done
"${helm_env[@]}" "${HELM_BIN}" repo index "${out}/chart" --url "${chart_url}"

echo "== standalone executables"
npx tsx scripts/build-sea.ts --out "${out}" 2> >(grep -v "Can't find string offset" >&2)
rm -f "${out}/SHA256SUMS"

echo "== container image"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  base="${NODE_IMAGE:-}"
  if [[ -z "${base}" ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v debootstrap >/dev/null; then
      base="$(bash scripts/make-node-base-image.sh)"
    else
      base=node:20-bookworm-slim
    fi
  fi
  tag="vcs-agent:${version}"
  docker build --network host --build-arg NODE_IMAGE="${base}" \
    --build-arg VERSION="${version}" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    -t "${tag}" . >"${out}/.image-build.log" 2>&1 || { tail -n 40 "${out}/.image-build.log" >&2; exit 1; }
  rm -f "${out}/.image-build.log"
  docker save "${tag}" -o "${out}/vcs-agent-image-${version}-linux-amd64.tar"
  echo "image ${tag} on ${base}: $(docker image inspect -f '{{.Size}}' "${tag}") bytes"
else
  echo "skipped: no Docker engine answers here (docker info failed); the workflow builds and pushes the multi-arch image"
fi

sums="$(cd "${out}" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs sha256sum --)"
printf '%s\n' "${sums}" > "${out}/SHA256SUMS"
echo "== ${out}"
(cd "${out}" && find . -type f -printf '%10s  %P\n' | sort -k2)
