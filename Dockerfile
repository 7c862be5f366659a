# warmgate in a small image, installed the way a user installs it: the package is packed from this
# repository (`npm pack` builds dist/) in a build stage, and the image installs that tarball, production
# dependencies only, beside a project (a gateway.config.ts and its apps) in /app. It runs as a non-root
# user, with tini as PID 1.
#   Build: docker build -t warmgate .          Run: docker run -p 8080:8080 warmgate
# Your own apps: replace deploy/app/ (gateway.config.ts and apps/) before building, or mount a project
# over it at run time: docker run -p 8080:8080 -v "$PWD/my-app:/app/project:ro" warmgate start --config project/gateway.config.ts
FROM node:24-slim AS pack
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /pkg

FROM node:24-slim
# tini as PID 1 forwards SIGTERM to warmgate and reaps orphans: a CGI script's own children that outlive
# it are re-parented to PID 1, and node as PID 1 would leave them as zombies. (Or run with `docker run
# --init`, which injects the same tini; Kubernetes has no such flag, hence tini in the image.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production
# The project's package.json: ES modules, as gateway.config.ts and its handlers are.
COPY --from=pack /pkg/ /tmp/pkg/
RUN echo '{ "private": true, "type": "module" }' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/pkg/warmgate-*.tgz \
 && rm -rf /tmp/pkg && npm cache clean --force
COPY deploy/app/ ./

# The `node` user (uid 1000) of the official image: nothing here runs as root. Its cache directory is
# where the spawn helper would be compiled; the slim image has no C compiler, so CGI processes are
# started by the python3 helper or, without python3, by the gateway itself (one warn line says which).
USER node
EXPOSE 8080
# What `warmgate start` drains on (in-flight requests get server.shutdownTimeout); docker stop waits
# 10 s by default before SIGKILL, so give it more with `docker stop -t 20` if you raise shutdownTimeout.
STOPSIGNAL SIGTERM
# node's fetch: the slim image has no curl. 127.0.0.1 works because the config listens on 0.0.0.0.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/__warmgate/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/node_modules/.bin/warmgate"]
CMD ["start"]
