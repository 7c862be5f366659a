import { defineConfig } from 'warmgate'

// Served by `npm start`. Paths are relative to this file.
export default defineConfig({
  server: { host: '127.0.0.1', port: 8080, bodyLimit: '16mb' },
  defaults: { mode: 'warm', timeout: '30s', workers: { min: 1, max: 4 } },
  apps: {
    hello: { route: '/hello', entry: './apps/hello.ts' },
    echo: { route: '/echo', entry: './apps/echo.ts' },
    counter: { route: '/counter', entry: './apps/counter.ts', workers: { min: 1, max: 1 } },
    cpu: { route: '/cpu', entry: './apps/cpu.ts', workers: { min: 2, max: 2 } },
    hono: { route: '/hono', entry: './apps/hono.ts', env: { GREETING: 'hi' } },
  },
})
