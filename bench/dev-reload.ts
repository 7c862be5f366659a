// `warmgate dev` over many saves: each save reloads in under 300 ms, and 200
// consecutive reloads leave the dev process's RSS within a few MB of where it started.
//
//   node bench/dev-reload.ts [--reloads 200] [--mode warm|inline]
//
// Runs the real `warmgate dev` (its own process, pinned Node) in a temp project with one app, saves the
// app's handler `--reloads` times (each save waits for its "↻ app reloaded in N ms" line, then one request
// checks the new body), and reads the dev process's VmRSS from /proc. "Start" is after the first request and
// the first 10 reloads: the first reloads load the reload code path and let V8 size its heap and the allocator
// its arenas; what must not happen is growth per reload after that. Bounded: every wait has a timeout, and the
// run stops after 120 s whatever `--reloads` says.
// Exit code: 0 with a report (target passed or missed), 1 when the bench failed to run.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { track } from './lib/children.ts'
import { nodeBinary } from './lib/gateway-process.ts'
import { readMemory } from './lib/proc.ts'
import { median } from './lib/stats.ts'

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const WARMUP_RELOADS = 10
const RUN_LIMIT_MS = 120_000
const RSS_TARGET_MB = 5
const RELOAD_TARGET_MS = 300

const dir = mkdtempSync(join(tmpdir(), 'wg-bench-dev-'))

function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => { timer = setTimeout(() => reject(new BenchFailure(`timed out after ${ms} ms: ${what}`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Least-squares slope of RSS against reload count, per 100 reloads. */
function slope (points: ReadonlyArray<{ reload: number, mb: number }>): number {
  const n = points.length
  if (n < 2) return Number.NaN
  const mx = points.reduce((sum, p) => sum + p.reload, 0) / n
  const my = points.reduce((sum, p) => sum + p.mb, 0) / n
  const sxy = points.reduce((sum, p) => sum + (p.reload - mx) * (p.mb - my), 0)
  const sxx = points.reduce((sum, p) => sum + (p.reload - mx) ** 2, 0)
  return (sxy / sxx) * 100
}

async function main (): Promise<number> {
  const { values } = parseArgs({ options: { reloads: { type: 'string', default: '200' }, mode: { type: 'string', default: 'warm' } } })
  const reloads = intOption('reloads', values.reloads, WARMUP_RELOADS + 1, 2000)
  if (values.mode !== 'warm' && values.mode !== 'inline') throw new BenchFailure(`--mode: expected warm or inline, got '${values.mode}'`)
  const write = (version: number): void => writeFileSync(join(dir, 'app.ts'), `let hits = 0\nexport default () => new Response('v${version} ' + (++hits))\n`)
  write(0)
  writeFileSync(join(dir, 'gateway.config.mjs'), `export default { apps: { app: { route: '/app', entry: './app.ts', mode: '${values.mode}', workers: { min: 1, max: 1 } } } }\n`)

  const child = track(spawn(nodeBinary(), [MAIN, 'dev', '--port', '0', '--log-level', 'warn'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }))
  let out = ''
  const waiters: Array<() => void> = []
  const onData = (chunk: string): void => {
    out += chunk
    for (const check of waiters.splice(0)) check()
  }
  child.stdout?.setEncoding('utf8').on('data', onData)
  child.stderr?.setEncoding('utf8').on('data', onData)
  const exited = new Promise<void>(resolve => child.once('close', () => resolve()))
  const waitFor = (re: RegExp, from: number): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const match = re.exec(out.slice(from))
      if (match !== null) resolve(match)
      else if (child.exitCode !== null) reject(new BenchFailure(`warmgate dev exited:\n${out}`))
      else waiters.push(check)
    }
    check()
  })
  const [, url] = await within(20_000, 'warmgate dev printing its URL', waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 0))
  const get = async (): Promise<string> => {
    const res = await within(10_000, 'GET /app', request(`${url}/app`))
    return within(10_000, 'the body of GET /app', res.body.text())
  }
  await get()

  const pid = child.pid as number
  const rss: Array<{ reload: number, mb: number }> = []
  const first = readMemory(pid)
  if (first === undefined) throw new BenchFailure('cannot read the dev process memory from /proc')
  const atStart = first.rss / 1048576
  const times: number[] = []
  const deadline = performance.now() + RUN_LIMIT_MS
  let done = 0
  for (let i = 1; i <= reloads && performance.now() < deadline; i++) {
    const mark = out.length
    // The watcher compares modification times; a new body every save also proves the reload took.
    write(i)
    const [, ms] = await within(10_000, `reload ${i}`, waitFor(/↻ app reloaded in (\d+) ms/, mark))
    const body = await get()
    if (!body.startsWith(`v${i} `)) throw new BenchFailure(`after save ${i} the app answered '${body}'`)
    times.push(Number(ms))
    done = i
    if (i === WARMUP_RELOADS || (i > WARMUP_RELOADS && (i - WARMUP_RELOADS) % 25 === 0) || i === reloads) {
      const memory = readMemory(pid)
      if (memory === undefined) throw new BenchFailure('cannot read the dev process memory from /proc')
      if (rss.at(-1)?.reload !== i) rss.push({ reload: i, mb: memory.rss / 1048576 })
    }
  }
  child.kill('SIGTERM')
  await within(10_000, 'warmgate dev exiting', exited)

  const start = rss[0]
  const fromStart = (rss.at(-1) as { mb: number }).mb - atStart
  const end = rss.at(-1) as { reload: number, mb: number }
  const growth = end.mb - start.mb
  const counted = done - WARMUP_RELOADS
  const sorted = [...times].sort((a, b) => a - b)
  process.stdout.write([
    `warmgate dev, ${values.mode} app, ${done} saves (${done < reloads ? `stopped at the ${RUN_LIMIT_MS / 1000} s limit` : 'all'})`,
    `reload time (save → serving new code): median ${median(times)} ms, p95 ${sorted[Math.ceil(sorted.length * 0.95) - 1]} ms, max ${sorted.at(-1)} ms`,
    `  target < ${RELOAD_TARGET_MS} ms: ${median(times) < RELOAD_TARGET_MS ? 'PASS' : 'MISS'} (median)`,
    `dev process RSS (MB): ${atStart.toFixed(1)} after the first request (before any reload); after reload ${rss.map(s => `${s.reload}: ${s.mb.toFixed(1)}`).join(', ')}`,
    `  growth over ${counted} reloads after the first ${WARMUP_RELOADS}: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB` +
      ` (target within ${RSS_TARGET_MB} MB: ${Math.abs(growth) <= RSS_TARGET_MB ? 'PASS' : 'MISS'})`,
    `  growth since the first request (reload code path loaded, heap sized on the way): ${fromStart >= 0 ? '+' : ''}${fromStart.toFixed(1)} MB`,
    // A leak grows with every reload; V8 resizing its young generation and the allocator keeping freed
    // pages move RSS up and down by several MB at any single reading. The slope tells them apart.
    `  slope (least squares over the readings): ${slope(rss).toFixed(2)} MB per 100 reloads`,
    '',
  ].join('\n'))
  return 0
}

await runBench('bench:dev', main, () => rmSync(dir, { recursive: true, force: true }))
