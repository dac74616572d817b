# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled code only, as a non-root user.
FROM node:22-bookworm-slim
# MALLOC_ARENA_MAX: src/node-flags.ts (GATEWAY_ENV).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=1 \
    BLOBGATE_HOST=0.0.0.0 \
    BLOBGATE_PORT=8787 \
    BLOBGATE_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.BLOBGATE_PORT||8787)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Node flags: src/node-flags.ts (test/node-flags.test.ts keeps them equal).
CMD ["node", "--max-semi-space-size=2", "--no-concurrent-array-buffer-sweeping", "dist/main.js"]
