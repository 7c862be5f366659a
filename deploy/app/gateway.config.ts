import type { GatewayConfig } from 'warmgate'

// The config the Docker image serves (the Dockerfile copies deploy/app/ to /app, beside the installed
// package); replace this directory with your own project's config and apps. Kubernetes' memory limit
// (deploy/k8s/deployment.yaml) is computed from the workers.max and memoryMb below;
// test/deploy/manifests.test.ts checks that it still fits. The type-only import is erased when Node
// strips the types: the file needs warmgate installed only to be type-checked.
export default {
  // Every interface: inside a container the port is reached through the container's network.
  server: { host: '0.0.0.0', port: 8080, shutdownTimeout: '10s' },
  apps: {
    hello: { route: '/hello', entry: './apps/hello.ts', workers: { min: 1, max: 2 }, memoryMb: 128 },
  },
} satisfies GatewayConfig
