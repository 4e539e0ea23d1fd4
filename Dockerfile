# syntax=docker/dockerfile:1
# test/shipping/image.test.ts replays this recipe step by step (COPY, RUN, ENV,
# USER, ENTRYPOINT, CMD) without Docker: keep the two in step.

# Build: `npm ci` runs `prepare`, which compiles TypeScript into dist/; then
# the dev dependencies are dropped.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
RUN npm ci --no-audit --no-fund
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# tini as PID 1 forwards SIGTERM to node (graceful drain) and reaps zombies.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="switchyard" \
      org.opencontainers.image.description="Programmable reverse proxy for blue-green deployments and canary releases" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.authors="the switchyard authors" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json LICENSE ./
COPY bin ./bin
COPY config/container.yaml /etc/switchyard/config.yaml
# The only path the router writes to (the file store, or store.cachePath with
# Redis): mount a volume here. Everything else may be a read-only root
# filesystem; nothing else is written.
RUN mkdir -p /var/lib/switchyard && chown 1000:1000 /var/lib/switchyard
VOLUME ["/var/lib/switchyard"]
# The image's `node` user, by number, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 8081 9901
# /healthz is liveness; it answers without a token.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SWITCHYARD_ADMIN_PORT||9901)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/switchyard.js"]
CMD ["serve", "--config", "/etc/switchyard/config.yaml"]
