# syntax=docker/dockerfile:1
# Build: compile TypeScript with dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund
# Runtime dependencies only.
RUN npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config/container.yaml /etc/switchyard/config.yaml
# The file store lives here; mount a volume to keep flips across restarts.
RUN mkdir -p /var/lib/switchyard && chown node:node /var/lib/switchyard
USER node
EXPOSE 8080 8081 9901
# /healthz is liveness; it answers without a token.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SWITCHYARD_ADMIN_PORT||9901)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/switchyard.js"]
CMD ["serve", "--config", "/etc/switchyard/config.yaml"]
