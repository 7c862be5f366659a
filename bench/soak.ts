// Soak: the gateway under a mixed load for minutes, reloaded now and then, its memory, fds, threads and
// child processes sampled. What a short bench cannot show: a leak, or an error that comes once in 10^5.
//
//   node bench/soak.ts [--duration 600] [--connections 8] [--reload-every 60] [--sample-every 10]
//
// The gateway runs as the `warmgate` CLI runs it (its own process, 127.0.0.1, port 0) with four apps from
// one temp dir (bench/lib/soak-fixtures.ts): warm (workers 1-2), inline and cold running one handler
// module, and a cgi directory of sh scripts; each with a 2 s timeout and an 8 MB body limit.
// Load (bench/lib/soak-traffic.ts): `--connections` closed loops over one undici Pool, only to 127.0.0.1,
// picking from a weighted mix (hello in every mode, echoes of 0 B to 4 MiB with Content-Length or chunked,
// checked byte for byte and by the handler's sha256, throws, a garbage CGI script, aborts mid-body and
// mid-response), plus one lane of timeouts (each holds a connection 2 s). SIGHUP every `--reload-every` s,
// waiting for "warmgate: reloaded"; a /proc sample of the gateway every `--sample-every` s.
// Exit code: 0 with a report (flat or not), 1 when the bench failed to run (or the gateway died).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { startCliGateway, type Server } from './lib/cli-gateway.ts'
import { nodeBinary } from './lib/gateway-process.ts'
import { findLeftovers, snapshotDescendants } from './lib/proc-tree.ts'
import { printReport, reportJson, sampleGateway, sampleLine, verdict, type Reload, type Sample } from './lib/soak-report.ts'
import { writeSoakFixtures } from './lib/soak-fixtures.ts'
import { MIX, PREFLIGHT, SLOW_LANE, Tally, runKind, trafficLoop, type LoopState } from './lib/soak-traffic.ts'

const RESULTS = fileURLToPath(new URL('./results/soak.json', import.meta.url))
const RELOAD_MS = 30_000
/** cli-gateway's stop(): SIGTERM, SIGKILL after this long. The gateway's own drain is bounded by 10 s too. */
const KILL_AFTER_MS = 10_000

const dir = mkdtempSync(join(tmpdir(), 'wg-bench-soak-'))
const tag = `soak-${process.pid}-${Date.now()}`

const count = (server: Server, text: string): number => server.logLines().filter(line => line.includes(text)).length

/** One SIGHUP, until the CLI says "warmgate: reloaded" or "reload failed" (bounded). */
async function reload (server: Server, t: number): Promise<Reload> {
  const done = count(server, 'warmgate: reloaded')
  const failed = count(server, 'reload failed')
  const from = performance.now()
  try {
    process.kill(server.pid, 'SIGHUP')
  } catch (error) {
    return { t, ms: 0, ok: false, error: `SIGHUP: ${(error as Error).message}` } // gone: the sampler says so
  }
  for (;;) {
    await sleep(10)
    const ms = Math.round(performance.now() - from)
    if (count(server, 'warmgate: reloaded') > done) return { t, ms, ok: true }
    if (count(server, 'reload failed') > failed) return { t, ms, ok: false, error: server.logLines().filter(line => line.includes('reload failed')).pop() }
    if (ms > RELOAD_MS) return { t, ms, ok: false, error: `no "warmgate: reloaded" within ${RELOAD_MS} ms` }
  }
}

/** The gateway's /__warmgate/metrics text ('' when it does not answer). */
async function scrape (pool: Pool): Promise<string> {
  try {
    const res = await pool.request({ path: '/__warmgate/metrics', method: 'GET' })
    const text = await res.body.text()
    return res.statusCode === 200 ? text : ''
  } catch {
    return ''
  }
}

/** Where RSS goes, as the gateway's main isolate sees it (prom-client): V8 heap used, and memory outside it. */
function memoryOf (metrics: string): { heapMb: number, externalMb: number } {
  const mb = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? Number.NaN) / 2 ** 20
  return { heapMb: mb('nodejs_heap_size_used_bytes'), externalMb: mb('nodejs_external_memory_bytes') }
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '600' },
      connections: { type: 'string', default: '8' },
      'reload-every': { type: 'string', default: '60' },
      'sample-every': { type: 'string', default: '10' },
    },
    strict: true,
  })
  const durationS = intOption('duration', values.duration, 10, 24 * 3600)
  const connections = intOption('connections', values.connections, 1, 64)
  const reloadEvery = intOption('reload-every', values['reload-every'], 1, 24 * 3600)
  const sampleEvery = intOption('sample-every', values['sample-every'], 1, 3600)
  const options = { duration: durationS, connections, 'reload-every': reloadEvery, 'sample-every': sampleEvery }
  const config = writeSoakFixtures(dir)

  // Log level fatal: the errors this bench causes on purpose would be logged by the thousand, and the CLI
  // wrapper keeps only the first 1000 lines, "warmgate: reloaded" among them. The gateway's error counters
  // (/__warmgate/metrics) say which codes it answered instead.
  const server = await startCliGateway({ node: nodeBinary(), config, logLevel: 'fatal', env: { ...process.env, WARMGATE_BENCH_TAG: tag } })
  process.stdout.write(`bench:soak — gateway pid ${server.pid} at ${server.url}; ${durationS} s, ${connections} connections + 1 timeout lane, reload every ${reloadEvery} s, sample every ${sampleEvery} s; ${availableParallelism()} cores, node ${process.version}\n`)
  // One more connection than loops: the timeout lane's.
  const pool = new Pool(server.url, { connections: connections + 1, headersTimeout: 15_000, bodyTimeout: 15_000 })
  const tally = new Tally()
  const reloads: Reload[] = []
  const samples: Sample[] = []
  const state: LoopState = { running: true, reloading: false, started: performance.now() }
  let metrics: string[] = []
  let died = false
  let shutdown = 'not stopped'
  let leftovers: string[] = []
  let ranS = 0
  // runBench stops the gateway on SIGINT/SIGTERM; the loops then stop too, without a line per refused request.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      state.running = false
      tally.quiet = true
    })
  }
  const elapsed = (): number => Math.round((performance.now() - state.started) / 1000)
  const take = async (): Promise<void> => {
    const t = elapsed()
    const s = await sampleGateway(server.pid, t, { requests: tally.total, unexpected: tally.unexpectedCount(), reloads: reloads.length, ...memoryOf(await scrape(pool)) })
    if (s === undefined) died = true
    else {
      samples.push(s)
      process.stdout.write(`${sampleLine(s)}\n`)
    }
  }
  try {
    // The setup first, one request of each kind: a failure here is the bench's, not the soak's finding.
    for (const k of PREFLIGHT) {
      const outcome = await runKind(pool, k)
      if (outcome.result === 'unexpected') throw new BenchFailure(`preflight ${k.name}: ${outcome.what} (${outcome.detail ?? ''})\n${server.logLines().join('\n')}`)
    }
    state.started = performance.now()
    await take()
    const loops = [...Array.from({ length: connections }, async () => trafficLoop(pool, MIX, state, tally)), trafficLoop(pool, SLOW_LANE, state, tally)]
    let nextSample = sampleEvery
    let nextReload = reloadEvery
    let reloading: Promise<void> | undefined
    // One clock for samples, reloads and the end; a sample is never held up by a reload that runs.
    while (!died && elapsed() < durationS) {
      await sleep(100)
      if (elapsed() >= nextSample) {
        await take()
        nextSample += sampleEvery
      }
      if (reloading === undefined && elapsed() >= nextReload && elapsed() < durationS) {
        state.reloading = true
        reloading = reload(server, elapsed()).then((r) => {
          reloads.push(r)
          if (!r.ok) process.stdout.write(`RELOAD FAILED at t=${r.t}s: ${r.error}\n`)
          state.reloading = false
          reloading = undefined
        })
        nextReload += reloadEvery
      }
    }
    state.running = false
    await Promise.all([...loops, reloading])
    ranS = (performance.now() - state.started) / 1000
    if (!died) {
      await take()
      metrics = (await scrape(pool)).split('\n').filter(line => /^warmgate_(errors_total|backend_errors_total|workers_replaced_total)\{/.test(line))
    }
  } finally {
    state.running = false
    await pool.close()
    const before = snapshotDescendants(server.pid)
    const from = performance.now()
    await server.stop()
    const ms = Math.round(performance.now() - from)
    shutdown = ms < KILL_AFTER_MS ? `SIGTERM, exited in ${ms} ms` : `SIGTERM, then SIGKILL: still running after ${KILL_AFTER_MS} ms`
    // What the gateway left: its children as they were before the stop, and anything with our tag or dir.
    leftovers = (await findLeftovers({ before, tag, dir, graceMs: 3000 })).map(p => `pid ${p.pid} (${p.state}) ${p.cmdline}`)
  }
  const gatewayStderr = server.logLines().filter(line => line.startsWith('stderr:')).slice(-40)
  const report = { options, durationS: ranS, tally, reloads, samples, verdict: verdict(samples), metrics, gatewayStderr, shutdown, leftovers }
  printReport(report)
  mkdirSync(join(RESULTS, '..'), { recursive: true })
  writeFileSync(RESULTS, reportJson(report))
  process.stdout.write(`\nReport written to ${RESULTS}\n`)
  if (died) throw new BenchFailure(`the gateway (pid ${server.pid}) exited during the soak, at t=${elapsed()}s`)
  return 0
}

await runBench('bench:soak', main, () => rmSync(dir, { recursive: true, force: true }))
