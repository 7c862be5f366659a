# warmgate in a small image: Node's own slim image, production dependencies only, a non-root user, and
# tini as PID 1. Build: docker build -t warmgate . — run: docker run -p 8080:8080 warmgate
# Serves deploy/gateway.config.ts; copy your own config and apps in its place.
FROM node:24-slim

# tini as PID 1 forwards SIGTERM to warmgate and reaps orphans: a CGI script's own children that outlive
# it are re-parented to PID 1, and node as PID 1 would leave them as zombies. (Or run with `docker run
# --init`, which injects the same tini; Kubernetes has no such flag, hence tini in the image.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --omit=dev also leaves out the `node` devDependency that pins Node for the npm scripts: the image runs
# its own node (24.x, >= 22.19 as package.json's engines require; it runs .ts files by type stripping).
RUN npm ci --omit=dev && npm cache clean --force
COPY src ./src
COPY apps ./apps
COPY deploy/gateway.config.ts ./deploy/gateway.config.ts

# The `node` user (uid 1000) of the official image: nothing here runs as root.
USER node
EXPOSE 8080
# What `warmgate start` drains on (in-flight requests get server.shutdownTimeout); docker stop waits
# 10 s by default before SIGKILL, so give it more with `docker stop -t 20` if you raise shutdownTimeout.
STOPSIGNAL SIGTERM
# node's fetch: the slim image has no curl. 127.0.0.1 works because the config listens on 0.0.0.0.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/__warmgate/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "src/cli/main.ts", "start", "--config", "deploy/gateway.config.ts"]
