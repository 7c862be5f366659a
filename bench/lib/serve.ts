// The gateway under test, in a process of its own (the load generator never shares it).
// Usage: node bench/lib/serve.ts --app hello|cpu|stream|io|big|express|ws-echo --mode warm|inline [--min N --max N] [--log-level warn]
//        [--fastcgi HOST:PORT|unix:/path] (also serve FastCGI: bench/fastcgi-front.ts)
// Prints one JSON line on stdout once listening: {"ready":true,"url":"http://127.0.0.1:PORT","pid":...}.
// Everything else it writes to stdout is pino's JSON log (at the chosen level). SIGTERM/SIGINT close it.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { AppConfig, Mode } from '../../src/index.ts'
import type { LogLevel } from '../../src/log/logger.ts'
import { builtGateway, builtHeap } from './built.ts'

const BENCH_APPS = {
  hello: '../../apps/hello.ts',
  cpu: '../../apps/cpu.ts',
  stream: '../apps/stream.ts',
  io: '../../apps/io.ts',
  big: '../../apps/big.ts',
  // bench/node-apps.ts: an Express app (kind 'node', detected) and a WebSocket echo.
  express: '../apps/express.ts',
  'ws-echo': '../apps/ws-echo.ts',
} as const
type BenchApp = keyof typeof BENCH_APPS

/** The marker the parent (bench/lib/gateway-process.ts) looks for among pino's lines. */
const READY_KEY = 'warmgateBenchReady'

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string' },
      mode: { type: 'string' },
      min: { type: 'string' },
      max: { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      fastcgi: { type: 'string' },
    },
    strict: true,
  })
  const app = values.app as BenchApp
  if (!(app in BENCH_APPS)) throw new Error(`--app: expected one of ${Object.keys(BENCH_APPS).join(', ')}`)
  const mode = values.mode as Mode
  if (mode !== 'warm' && mode !== 'inline') throw new Error('--mode: expected warm or inline')
  const appConfig: AppConfig = {
    route: `/${app}`,
    entry: fileURLToPath(new URL(BENCH_APPS[app], import.meta.url)),
    mode,
  }
  if (mode === 'warm') appConfig.workers = { min: Number(values.min ?? 1), max: Number(values.max ?? values.min ?? 1) }

  // The built package, as users run it (built.ts), with the heap setting the warmgate CLI applies (src/cli/start.ts).
  const { createGateway } = await builtGateway()
  ;(await builtHeap()).fixYoungGeneration()
  const gateway = await createGateway({ apps: { [app]: appConfig } }, { logLevel: values['log-level'] as LogLevel })
  const { url, fastcgi } = await gateway.listen({ host: '127.0.0.1', port: 0, fastcgi: values.fastcgi })
  process.stdout.write(JSON.stringify({ [READY_KEY]: true, url, fastcgi, pid: process.pid, routes: gateway.routes() }) + '\n')

  let stopping = false
  const stop = (): void => {
    if (stopping) process.exit(1)
    stopping = true
    // Bounded: the parent SIGKILLs after a few seconds anyway, but do not rely on it.
    setTimeout(() => process.exit(1), 4000).unref()
    gateway.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // The parent holds our stdin open; when it goes away (even by SIGKILL), so do we.
  process.stdin.on('end', stop).on('error', stop).resume()
}

main().catch((error: unknown) => {
  process.stderr.write(`serve.ts: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
