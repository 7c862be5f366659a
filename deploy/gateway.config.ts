import { defineConfig } from '../src/index.ts'

// The config the Docker image serves (Dockerfile: --config deploy/gateway.config.ts); replace it and
// apps/ with your own. Kubernetes' memory limit (deploy/k8s/deployment.yaml) is computed from the
// workers.max and memoryMb below; test/deploy/manifests.test.ts checks that it still fits.
export default defineConfig({
  // Every interface: inside a container the port is reached through the container's network.
  server: { host: '0.0.0.0', port: 8080, shutdownTimeout: '10s' },
  apps: {
    hello: { route: '/hello', entry: '../apps/hello.ts', workers: { min: 1, max: 2 }, memoryMb: 128 },
    echo: { route: '/echo', entry: '../apps/echo.ts', workers: { min: 1, max: 2 }, memoryMb: 128 },
  },
})
