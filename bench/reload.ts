// Reload under load: zero failed requests, and p99 latency of the requests
// that ran during a reload at most 3x the steady p99.
//
//   node bench/reload.ts [--steady 8] [--reloads 3] [--gap 2] [--connections 8] [--mode warm|inline] [--after 1000]
//
// The gateway runs as the `warmgate` CLI runs it (its own process, apps/hello.ts, warm workers 1-2, log
// level warn); the load comes from this process: `--connections` loops over one undici Pool, each request
// timed on its own. First `--steady` seconds of load (the first second is warm-up and not counted), then
// `--reloads` SIGHUPs, one at a time, each `--gap` seconds after the previous one was reported done
// ("warmgate: reloaded"); a request counts as "during a reload" when it started between a SIGHUP and that
// line. Every wait is bounded; the whole run stays under a minute with the defaults.
// Also printed, not judged: the p99 of the requests started in the first `--after` ms after each SIGHUP,
// a window of the same length whatever a reload takes, so that it also covers what a reload leaves behind
// it (a new pool smaller than the old one, threads still starting after the swap).
// Exit code: 0 with a report (target passed or missed), 1 when the bench failed to run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { startCliGateway } from './lib/cli-gateway.ts'
import { nodeBinary } from './lib/gateway-process.ts'
import { table } from './lib/stats.ts'

const HELLO = fileURLToPath(new URL('../apps/hello.ts', import.meta.url))
const RELOAD_MS = 20_000

interface Sample { at: number, ms: number, ok: boolean }

function p99 (values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]
}

const dir = mkdtempSync(join(tmpdir(), 'wg-bench-reload-'))

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      steady: { type: 'string', default: '8' },
      reloads: { type: 'string', default: '3' },
      gap: { type: 'string', default: '2' },
      connections: { type: 'string', default: '8' },
      mode: { type: 'string', default: 'warm' },
      after: { type: 'string', default: '1000' },
    },
    strict: true,
  })
  const steadyS = intOption('steady', values.steady, 2, 30)
  const reloads = intOption('reloads', values.reloads, 1, 10)
  const gapS = intOption('gap', values.gap, 1, 10)
  const connections = intOption('connections', values.connections, 1, 64)
  const afterMs = intOption('after', values.after, 100, 5000)
  if (afterMs >= gapS * 1000) throw new BenchFailure(`--after: must be shorter than --gap (${gapS * 1000} ms), got ${afterMs}`)
  if (values.mode !== 'warm' && values.mode !== 'inline') throw new BenchFailure(`--mode: expected warm or inline, got '${values.mode}'`)

  const config = join(dir, 'gateway.config.mjs')
  writeFileSync(config, `export default { apps: { hello: { route: '/hello', entry: ${JSON.stringify(HELLO)}, mode: '${values.mode}', workers: { min: 1, max: 2 } } } }\n`)
  const server = await startCliGateway({ node: nodeBinary(), config, logLevel: 'warn', env: process.env })
  const pool = new Pool(server.url, { connections })
  const samples: Sample[] = []
  const errors: string[] = []
  let running = true
  const loop = async (): Promise<void> => {
    while (running) {
      const at = performance.now()
      try {
        const res = await pool.request({ path: '/hello', method: 'GET' })
        await res.body.text()
        samples.push({ at, ms: performance.now() - at, ok: res.statusCode === 200 })
        if (res.statusCode !== 200 && errors.length < 20) errors.push(`status ${res.statusCode}`)
      } catch (error) {
        samples.push({ at, ms: performance.now() - at, ok: false })
        if (errors.length < 20) errors.push((error as Error).message)
      }
    }
  }
  const started = performance.now()
  const load = Promise.all(Array.from({ length: connections }, loop))
  const windows: Array<{ from: number, to: number }> = []
  try {
    await sleep(steadyS * 1000)
    for (let i = 0; i < reloads; i++) {
      const done = server.logLines().filter(line => line.startsWith('warmgate: reloaded')).length
      const from = performance.now()
      process.kill(server.pid, 'SIGHUP')
      while (server.logLines().filter(line => line.startsWith('warmgate: reloaded')).length === done) {
        if (server.logLines().some(line => line.includes('reload failed'))) throw new BenchFailure(`reload ${i + 1} failed:\n${server.logLines().join('\n')}`)
        if (performance.now() - from > RELOAD_MS) throw new BenchFailure(`reload ${i + 1} did not finish within ${RELOAD_MS} ms`)
        await sleep(5)
      }
      windows.push({ from, to: performance.now() })
      await sleep(gapS * 1000)
    }
  } finally {
    running = false
    await load
    await pool.close()
    await server.stop()
  }
  const steady = samples.filter(s => s.at >= started + 1000 && s.at < started + steadyS * 1000)
  const during = samples.filter(s => windows.some(w => s.at >= w.from && s.at <= w.to))
  const after = samples.filter(s => windows.some(w => s.at >= w.from && s.at <= w.from + afterMs))
  const failed = samples.filter(s => !s.ok).length
  const steadyP99 = p99(steady.map(s => s.ms))
  const duringP99 = p99(during.map(s => s.ms))
  const ratio = duringP99 / steadyP99
  const reloadMs = windows.map(w => Math.round(w.to - w.from))
  process.stdout.write(`${table([
    ['phase', 'requests', 'p99 ms', 'failed'],
    ['steady', String(steady.length), steadyP99.toFixed(2), String(steady.filter(s => !s.ok).length)],
    ['during reloads', String(during.length), duringP99.toFixed(2), String(during.filter(s => !s.ok).length)],
    [`${afterMs} ms after SIGHUP`, String(after.length), p99(after.map(s => s.ms)).toFixed(2), String(after.filter(s => !s.ok).length)],
    ['all', String(samples.length), p99(samples.map(s => s.ms)).toFixed(2), String(failed)],
  ])}\n`)
  process.stdout.write(`mode ${values.mode}, ${connections} connections; reloads took ${reloadMs.join(', ')} ms (SIGHUP to "warmgate: reloaded", old pool drained)\n`)
  if (errors.length > 0) process.stdout.write(`first errors:\n  ${errors.join('\n  ')}\n`)
  const pass = failed === 0 && ratio <= 3
  process.stdout.write(`target: 0 failed and p99 during reloads <= 3x steady: ${failed} failed, ${ratio.toFixed(2)}x -> ${pass ? 'PASS' : 'MISS'}\n`)
  process.stdout.write(`(not a target) p99 of requests started within ${afterMs} ms of a SIGHUP: ${(p99(after.map(s => s.ms)) / steadyP99).toFixed(2)}x steady\n`)
  return 0
}

await runBench('bench:reload', main, () => rmSync(dir, { recursive: true, force: true }))
