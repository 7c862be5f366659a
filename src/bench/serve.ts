// The gateway under test, in a process of its own, so the load generator never shares its event loop.
//   node src/bench/serve.ts --app NAME --mode warm|inline|cold [--config FILE]
// Without --config, NAME is one of the shipped workloads (workloads.ts). Only that app is started, with
// its mode overridden (cgi apps keep theirs), listening on 127.0.0.1, port 0. Writes to stdout:
//   {"warmgateBenchReady":{"url":…,"pid":…,"workers":…}}   once listening
//   {"warmgateBenchStats":{"completed":…,"failed":…,"workers":…}}   every 250 ms (progress, worker count)
// and pino's JSON lines at --log-level (default error). It exits when its stdin closes (the parent is
// gone, even by SIGKILL) or on SIGTERM/SIGINT.
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { fixYoungGeneration } from '../cli/heap.ts'
import type { GatewayConfig, Mode } from '../config/define.ts'
import { createGateway, type Gateway } from '../gateway/gateway.ts'
import type { LogLevel } from '../log/logger.ts'
import { READY_KEY, STATS_EVERY_MS, STATS_KEY } from './child-lines.ts'
import { SHIPPED_WORKLOADS } from './workloads.ts'

/** A config with the one app, as the file (or the shipped workloads) defines it. */
async function oneApp (app: string, configFile: string | undefined): Promise<{ config: GatewayConfig, baseDir: string }> {
  if (configFile === undefined) return { config: { apps: { [app]: SHIPPED_WORKLOADS[app] } }, baseDir: process.cwd() }
  const path = resolve(configFile)
  // The parent validated this file (loadConfigFile) before starting us; createGateway validates it again.
  const raw = (await import(pathToFileURL(path).href) as { default: GatewayConfig }).default
  return { config: { server: raw.server, defaults: raw.defaults, apps: { [app]: raw.apps[app] } }, baseDir: dirname(path) }
}

function counts (gateway: Gateway): { completed: number, failed: number, workers: number } {
  let completed = 0
  let failed = 0
  let workers = 0
  for (const stats of Object.values(gateway.stats())) {
    completed += stats.completed
    failed += stats.failed
    workers += stats.workers
  }
  return { completed, failed, workers }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { app: { type: 'string' }, mode: { type: 'string' }, config: { type: 'string' }, 'log-level': { type: 'string', default: 'error' } },
    strict: true,
  })
  const { config, baseDir } = await oneApp(values.app as string, values.config)
  // As `warmgate start` runs (src/cli/start.ts): every mode, the same heap setting.
  fixYoungGeneration()
  const gateway = await createGateway(config, { baseDir, mode: values.mode as Mode, logLevel: values['log-level'] as LogLevel })
  const { url } = await gateway.listen({ host: '127.0.0.1', port: 0 })
  process.stdout.write(JSON.stringify({ [READY_KEY]: { url, pid: process.pid, workers: counts(gateway).workers } }) + '\n')
  const timer = setInterval(() => process.stdout.write(JSON.stringify({ [STATS_KEY]: counts(gateway) }) + '\n'), STATS_EVERY_MS)

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    clearInterval(timer)
    // Bounded: the parent SIGKILLs later anyway, but do not rely on it.
    setTimeout(() => process.exit(1), 4000).unref()
    gateway.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop).on('error', stop).resume()
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message ?? String(error)}\n`)
  process.exit(1)
})
