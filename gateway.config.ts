import { defineConfig } from './src/index.ts'

// Served by `npm start`. Paths are relative to this file.
export default defineConfig({
  server: { host: '127.0.0.1', port: 8080, bodyLimit: '16mb' },
  defaults: { mode: 'warm', timeout: '30s', workers: { min: 1, max: 4 } },
  apps: {
    hello: { route: '/hello', entry: './apps/hello.ts' },
    echo: { route: '/echo', entry: './apps/echo.ts' },
    counter: { route: '/counter', entry: './apps/counter.ts', workers: { min: 1, max: 1 } },
    cpu: { route: '/cpu', entry: './apps/cpu.ts', workers: { min: 2, max: 2 } },
    // Workloads of `warmgate bench`: a handler that awaits a 20 ms timer, and a 1 MiB response.
    io: { route: '/io', entry: './apps/io.ts' },
    big: { route: '/big', entry: './apps/big.ts' },
    hono: { route: '/hono', entry: './apps/hono.ts', env: { GREETING: 'hi' } },
    // Node-style apps, unchanged: an Express 5, a Koa and a Fastify app (kind 'node', detected).
    express: { route: '/express', entry: './apps/express.ts' },
    koa: { route: '/koa', entry: './apps/koa.ts' },
    fastify: { route: '/fastify', entry: './apps/fastify.ts' },
    // An AWS Lambda handler (a named `handler` export), unchanged: API Gateway 2.0 events in, results out.
    lambda: { route: '/lambda', entry: './apps/lambda.ts' },
    // The same handler as /hello, one fresh process per request (CGI's model).
    'hello-cold': { route: '/cold/hello', entry: './apps/hello.ts', mode: 'cold' },
    // A directory of CGI scripts in any language: /cgi-bin/hello.sh, /cgi-bin/env.pl, /cgi-bin/form.py.
    legacy: { route: '/cgi-bin', cgi: './apps/cgi-bin', timeout: '10s', passEnv: ['TZ'] },
  },
})
