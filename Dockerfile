# syntax=docker/dockerfile:1
# The catalog-rollout worker: docker build -t catalog-rollout .
# Node.js 24 (LTS) on Debian bookworm slim. Not Alpine: Temporal's native core bridge needs glibc.
# The digest pins the tag named (the multi-arch index); refresh both with:
#   docker buildx imagetools inspect node:<version>-bookworm-slim
ARG NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
# Compiles to lib/ and writes the workflow bundles (with the observability interceptors) to lib/workflow-bundle.js and,
# with failures encoded for payload encryption, lib/workflow-bundle-encrypted.js.
RUN npm run build

FROM ${NODE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/lib/src ./lib/src
COPY --from=build /app/lib/workflow-bundle.js /app/lib/workflow-bundle-encrypted.js ./lib/
# The prebuilt bundle: no webpack at start (with PAYLOAD_CODEC_KEYS_FILE, point WORKFLOW_BUNDLE_PATH at
# lib/workflow-bundle-encrypted.js). Metrics and health are on in the image (off by default elsewhere).
# A 256 MB V8 heap with the default cache of 500 workflows: 1,000 concurrent updates peaked at 441 MB resident
# (docs/performance.md). Raise both together.
ENV WORKFLOW_BUNDLE_PATH=/app/lib/workflow-bundle.js \
    NODE_OPTIONS=--max-old-space-size=256 \
    METRICS_BIND_ADDRESS=0.0.0.0:9464 \
    HEALTH_BIND_ADDRESS=0.0.0.0:8081 \
    WORKER_SHUTDOWN_GRACE_MS=10000
EXPOSE 9464 8081
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_BIND_ADDRESS || ':8081').split(':').pop() + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop, Kubernetes) lets running activities finish for WORKER_SHUTDOWN_GRACE_MS, then exits 0; give
# the orchestrator a longer stop timeout than that (compose stop_grace_period, terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# Node itself is PID 1 (no npm wrapper), so the signal reaches the worker.
CMD ["node", "lib/src/worker.js"]
