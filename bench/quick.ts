// Quick benchmark: warm vs inline on hello world and on a CPU-bound handler.
//
//   npm run bench:quick -- [--rounds 3] [--duration 5] [--warmup 2] [--json FILE] [--log-level warn|silent|info]
//                          [--only hello,cpu] [--skip-control] [--settle 20] [--cpu-prof]
//
// BENCH_NODE_FLAGS="--max-semi-space-size=4": Node/V8 flags for every gateway process, inline and warm alike
// (to measure a deployment knob such as the main isolate's young-generation size; see README, Performance).
//
// --settle S: before each run, wait up to S seconds for the machine to be quiet (< 0.15 cores busy), since
// other work on a small machine moves the numbers more than anything measured here. Runs are never dropped.
//
// Each run: a fresh gateway process (bench/lib/serve.ts, 127.0.0.1, port 0), a warm-up wrk run that is not
// counted, then the measured wrk run in a separate wrk process, with VmRSS of the gateway sampled every
// 100 ms. Rounds are interleaved: round 1 runs every scenario's inline and warm variants, then round 2, ...
// Ratios warm/inline are taken within a round, and the report shows the median of those ratios.
// Exit code: 0 with a report (targets missed or not), 1 when the bench itself failed.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { nodeBinary, startGateway, type GatewaySpec } from './lib/gateway-process.ts'
import { readCpuSeconds, readMemory, readSystemBusySeconds, readThreadCpu, sampleRss, threadCpuDelta, waitForQuiet } from './lib/proc.ts'
import { spread, table } from './lib/stats.ts'
import { runWrk, wrkArgs, wrkVersion, type WrkReport, type WrkSettings } from './lib/wrk.ts'
import { BenchFailure, intOption, runBench } from './lib/args.ts'

interface Variant {
  label: string
  mode: 'warm' | 'inline' | 'bare'
  workers?: { min: number, max: number }
  /** Not the gateway: a reference point shown for context, held to no target. */
  control?: boolean
}

interface Scenario {
  name: 'hello' | 'cpu'
  path: string
  /** A substring the response body must contain (checked once per run, before the load). */
  expect: string
  wrk: WrkSettings
  /** The first is the inline reference. */
  variants: Variant[]
}

const INLINE: Variant = { label: 'inline', mode: 'inline' }
const SCENARIOS: Scenario[] = [
  {
    name: 'hello',
    path: '/hello',
    expect: 'Hello, world!',
    wrk: { threads: 1, connections: 50, timeoutS: 2 },
    variants: [
      INLINE,
      { label: 'warm 1-1', mode: 'warm', workers: { min: 1, max: 1 } },
      { label: 'warm 2-2', mode: 'warm', workers: { min: 2, max: 2 } },
      // After the gateway runs of the round, so the inline-then-warm order is untouched.
      { label: 'bare http', mode: 'bare', control: true },
    ],
  },
  {
    name: 'cpu',
    // ~2 ms of synchronous work per request on this machine (apps/cpu.ts's default): the workload
    // the workload the 1.8x target is stated for.
    path: '/cpu?n=14000',
    expect: '14000 rounds',
    wrk: { threads: 1, connections: 8, timeoutS: 2 },
    variants: [INLINE, { label: 'warm 2-2', mode: 'warm', workers: { min: 2, max: 2 } }],
  },
]

interface Target {
  scenario: Scenario['name']
  variant: string
  metric: 'rps' | 'p99' | 'rss'
  op: '>=' | '<='
  bound: number
  text: string
}

// Issue 2: hello warm >= 0.85x inline throughput with p99 <= 2x inline; cpu (2 workers) warm >= 1.8x inline;
// gateway RSS under load with 2 warm workers <= 2x inline. Hello has two warm rows: both are held to it.
const TARGETS: Target[] = [
  { scenario: 'hello', variant: 'warm 1-1', metric: 'rps', op: '>=', bound: 0.85, text: 'hello, warm 1-1: req/s >= 0.85 x inline' },
  { scenario: 'hello', variant: 'warm 1-1', metric: 'p99', op: '<=', bound: 2, text: 'hello, warm 1-1: p99 <= 2 x inline' },
  { scenario: 'hello', variant: 'warm 2-2', metric: 'rps', op: '>=', bound: 0.85, text: 'hello, warm 2-2: req/s >= 0.85 x inline' },
  { scenario: 'hello', variant: 'warm 2-2', metric: 'p99', op: '<=', bound: 2, text: 'hello, warm 2-2: p99 <= 2 x inline' },
  { scenario: 'cpu', variant: 'warm 2-2', metric: 'rps', op: '>=', bound: 1.8, text: 'cpu, warm 2-2: req/s >= 1.8 x inline' },
  { scenario: 'hello', variant: 'warm 2-2', metric: 'rss', op: '<=', bound: 2, text: 'hello, warm 2-2: peak RSS <= 2 x inline' },
  { scenario: 'cpu', variant: 'warm 2-2', metric: 'rss', op: '<=', bound: 2, text: 'cpu, warm 2-2: peak RSS <= 2 x inline' },
]

interface RunResult {
  round: number
  scenario: Scenario['name']
  variant: string
  rps: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  requests: number
  errors: { connect: number, read: number, write: number, timeout: number, status: number, total: number, rate: number }
  /** VmRSS right after start-up, before any load. */
  idleRssMb: number
  /** Highest VmRSS sampled during the measured run. */
  peakRssMb: number
  /** VmHWM at the end of the measured run (start-up and warm-up included). */
  hwmMb: number
  /** Gateway CPU time over the measured run / its wall time: cores used. */
  gatewayCores: number | undefined
  /** Gateway cores by thread name over the measured run: MainThread, WorkerThread (all workers), V8Worker... */
  threadCores: Record<string, number>
  wrkCores: number | undefined
  /** Seconds spent waiting for a quiet machine before this run, and whether it got quiet. */
  settle: { waitedS: number, busyCores: number, quiet: boolean }
  /** CPU the rest of the machine used during the measured run (not the gateway, not wrk): other sessions' load. */
  otherCores: number | undefined
  wrk: WrkReport
  logLines: string[]
}

const MB = 1024 * 1024
/** Cores used by anything else on the machine above which a run is flagged as disturbed (never dropped). */
const OTHER_LOAD_LIMIT = 0.15
const MAX_ROUNDS = 20
const MAX_DURATION_S = 120

function parseOptions (): { rounds: number, durationS: number, warmupS: number, json?: string, logLevel: string, only: Set<string>, control: boolean, settleS: number, cpuProf: boolean } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      json: { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      only: { type: 'string', default: SCENARIOS.map(s => s.name).join(',') },
      'skip-control': { type: 'boolean', default: false },
      settle: { type: 'string', default: '20' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write('npm run bench:quick -- [--rounds 3] [--duration 5] [--warmup 2] [--json FILE] [--log-level warn|silent|info] [--only hello,cpu] [--skip-control] [--settle 20] [--cpu-prof]\n')
    process.exit(0)
  }
  const only = new Set(values.only.split(',').map(s => s.trim()).filter(Boolean))
  for (const name of only) if (!SCENARIOS.some(s => s.name === name)) throw new BenchFailure(`--only: unknown scenario '${name}'`)
  if (!['warn', 'silent', 'info', 'error'].includes(values['log-level'])) throw new BenchFailure(`--log-level: expected warn, silent, error or info, got '${values['log-level']}'`)
  return {
    rounds: intOption('rounds', values.rounds, 1, MAX_ROUNDS),
    durationS: intOption('duration', values.duration, 1, MAX_DURATION_S),
    warmupS: intOption('warmup', values.warmup, 0, 10),
    json: values.json,
    logLevel: values['log-level'],
    only,
    control: !values['skip-control'],
    settleS: intOption('settle', values.settle, 0, 120),
    cpuProf: values['cpu-prof'],
  }
}

function machineFacts (): Record<string, string | number> {
  const nodeVersion = execFileSync(nodeBinary(), ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim()
  let git = 'unknown'
  try {
    const cwd = fileURLToPath(new URL('..', import.meta.url))
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', timeout: 5000 }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8', timeout: 5000 }).trim() !== ''
    git = `${head}${dirty ? ' (src/ has uncommitted changes)' : ''}`
  } catch {}
  return {
    node: `${nodeVersion} (${nodeBinary()})`,
    cpus: `${cpus().length} (availableParallelism ${availableParallelism()}; ${cpus()[0]?.model ?? '?'})`,
    loadavg: loadavg().map(n => n.toFixed(2)).join(' '),
    memory: `${(totalmem() / MB / 1024).toFixed(1)} GB`,
    kernel: release(),
    wrk: wrkVersion() ?? 'missing',
    git,
  }
}

async function checkResponse (url: string, expect: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const body = await res.text()
  if (res.status !== 200 || !body.includes(expect)) {
    throw new BenchFailure(`sanity check of ${url} failed: status ${res.status}, body ${JSON.stringify(body.slice(0, 200))}`)
  }
}

async function runOne (scenario: Scenario, variant: Variant, round: number, options: ReturnType<typeof parseOptions>, profRoot: string | undefined): Promise<RunResult> {
  const spec: GatewaySpec = {
    app: scenario.name,
    mode: variant.mode,
    workers: variant.workers,
    logLevel: options.logLevel,
    cpuProfDir: profRoot === undefined ? undefined : `${profRoot}/r${round}-${scenario.name}-${variant.label.replace(/\W+/g, '')}`,
  }
  const settled = await waitForQuiet(options.settleS * 1000, OTHER_LOAD_LIMIT)
  const gateway = await startGateway(spec)
  try {
    const url = gateway.url + scenario.path
    await checkResponse(url, scenario.expect)
    const idle = readMemory(gateway.pid)
    // Warm-up: identical wrk settings, not counted.
    if (options.warmupS > 0) await runWrk(scenario.wrk, options.warmupS, url)

    const cpuBefore = readCpuSeconds(gateway.pid)
    const threadsBefore = readThreadCpu(gateway.pid)
    const sysBefore = readSystemBusySeconds()
    const started = performance.now()
    const rss = sampleRss(gateway.pid, 100)
    let measured: Awaited<ReturnType<typeof runWrk>>
    let peak: ReturnType<typeof rss.stop>
    try {
      measured = await runWrk(scenario.wrk, options.durationS, url)
    } finally {
      peak = rss.stop()
    }
    const wallS = (performance.now() - started) / 1000
    const cpuAfter = readCpuSeconds(gateway.pid)
    const threadsAfter = readThreadCpu(gateway.pid)
    const sysAfter = readSystemBusySeconds()
    const end = readMemory(gateway.pid)
    if (end === undefined) throw new BenchFailure(`${scenario.name} ${variant.label}: the gateway process died during the run`)
    const w = measured.report
    const gatewayCpu = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
    const otherCpu = sysBefore === undefined || sysAfter === undefined || gatewayCpu === undefined || measured.cpuSeconds === undefined
      ? undefined
      : Math.max(0, sysAfter - sysBefore - gatewayCpu - measured.cpuSeconds)
    const errorTotal = w.err_connect + w.err_read + w.err_write + w.err_timeout + w.err_status
    return {
      round,
      scenario: scenario.name,
      variant: variant.label,
      rps: w.requests / (w.duration_us / 1e6),
      p50Ms: w.p50_us / 1000,
      p90Ms: w.p90_us / 1000,
      p99Ms: w.p99_us / 1000,
      p999Ms: w.p999_us / 1000,
      maxMs: w.lat_max_us / 1000,
      requests: w.requests,
      errors: {
        connect: w.err_connect,
        read: w.err_read,
        write: w.err_write,
        timeout: w.err_timeout,
        status: w.err_status,
        total: errorTotal,
        rate: w.requests === 0 ? 1 : errorTotal / w.requests,
      },
      idleRssMb: (idle?.rss ?? 0) / MB,
      peakRssMb: peak.peakRss / MB,
      hwmMb: end.hwm / MB,
      gatewayCores: gatewayCpu === undefined ? undefined : gatewayCpu / wallS,
      threadCores: Object.fromEntries(Object.entries(threadCpuDelta(threadsBefore, threadsAfter)).map(([name, seconds]) => [name, seconds / wallS])),
      wrkCores: measured.cpuSeconds === undefined ? undefined : measured.cpuSeconds / wallS,
      settle: { waitedS: settled.waitedMs / 1000, busyCores: settled.busyCores, quiet: settled.quiet },
      otherCores: otherCpu === undefined ? undefined : otherCpu / wallS,
      wrk: w,
      logLines: gateway.logLines,
    }
  } finally {
    await gateway.stop()
  }
}

const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : '-'
const range = (values: number[], digits = 0): string => {
  const s = spread(values)
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}

function report (runs: RunResult[], scenarios: Scenario[], rounds: number): { lines: string[], ratios: Record<string, unknown>, verdicts: Array<{ target: string, value: number, pass: boolean }> } {
  const lines: string[] = []
  const rows: string[][] = [['scenario', 'variant', 'req/s med (min–max)', 'p50 ms', 'p99 ms med (min–max)', 'peak RSS MB (min–max)', 'idle RSS', 'gw cores', 'main thr', 'workers', 'gw µs CPU/req', 'wrk cores', 'other cores', 'errors']]
  for (const scenario of scenarios) {
    for (const variant of scenario.variants) {
      const rs = runs.filter(r => r.scenario === scenario.name && r.variant === variant.label)
      if (rs.length === 0) continue
      rows.push([
        `${scenario.name} c=${scenario.wrk.connections}`,
        variant.label,
        range(rs.map(r => r.rps)),
        fmt(spread(rs.map(r => r.p50Ms)).median, 2),
        range(rs.map(r => r.p99Ms), 2),
        range(rs.map(r => r.peakRssMb)),
        fmt(spread(rs.map(r => r.idleRssMb)).median),
        fmt(spread(rs.map(r => r.gatewayCores ?? Number.NaN)).median, 2),
        fmt(spread(rs.map(r => r.threadCores.MainThread ?? Number.NaN)).median, 2),
        variant.mode === 'warm' ? fmt(spread(rs.map(r => r.threadCores.WorkerThread ?? Number.NaN)).median, 2) : '-',
        fmt(spread(rs.map(r => 1e6 * (r.gatewayCores ?? Number.NaN) / r.rps)).median),
        fmt(spread(rs.map(r => r.wrkCores ?? Number.NaN)).median, 2),
        fmt(spread(rs.map(r => r.otherCores ?? Number.NaN)).max, 2),
        String(rs.reduce((sum, r) => sum + r.errors.total, 0)),
      ])
    }
  }
  lines.push(`Medians over ${rounds} round(s), (min–max) across rounds. Latency from wrk. RSS: the gateway process (all threads), VmRSS sampled every`)
  lines.push('100 ms during the measured run; idle RSS before any load. gw cores: CPU time of the gateway process (all threads) / wall time;')
  lines.push('main thr / workers: the part of it on the main thread / on all worker threads together (the rest: V8 and libuv helper threads).')
  lines.push('other cores: the most CPU that anything but the gateway and wrk used during a measured run (other load on the machine).')
  lines.push(table(rows))
  lines.push('')

  // Ratios taken within each round, then the median over rounds.
  const ratios: Record<string, Record<string, number[]>> = {}
  const ratioRows: string[][] = [['scenario', 'x / inline', 'req/s ratio med (per round)', 'p99 ratio med (per round)', 'RSS ratio med (per round)']]
  for (const scenario of scenarios) {
    for (const variant of scenario.variants.slice(1)) {
      const per = { rps: [] as number[], p99: [] as number[], rss: [] as number[] }
      const disturbed: boolean[] = []
      for (let round = 1; round <= rounds; round++) {
        const inline = runs.find(r => r.round === round && r.scenario === scenario.name && r.variant === INLINE.label)
        const warm = runs.find(r => r.round === round && r.scenario === scenario.name && r.variant === variant.label)
        if (inline === undefined || warm === undefined) continue
        per.rps.push(warm.rps / inline.rps)
        per.p99.push(warm.p99Ms / inline.p99Ms)
        per.rss.push(warm.peakRssMb / inline.peakRssMb)
        disturbed.push([inline, warm].some(r => (r.otherCores ?? 0) > OTHER_LOAD_LIMIT))
      }
      if (per.rps.length === 0) continue
      ratios[`${scenario.name}/${variant.label}`] = per
      const cell = (values: number[]): string => `${fmt(spread(values).median, 2)} (${values.map((v, i) => fmt(v, 2) + (disturbed[i] ? '*' : '')).join(' ')})`
      ratioRows.push([scenario.name, variant.control === true ? `${variant.label} (control)` : variant.label, cell(per.rps), cell(per.p99), cell(per.rss)])
    }
  }
  lines.push('Ratios x/inline, computed within each round (values in round order), median over rounds:')
  lines.push(table(ratioRows))
  lines.push(`  * other load on the machine above ${OTHER_LOAD_LIMIT} cores during the inline or the x run of that round (kept in the median all the same).`)
  lines.push('')

  const verdicts: Array<{ target: string, value: number, pass: boolean }> = []
  lines.push('Targets, on the median of the per-round ratios:')
  for (const target of TARGETS) {
    const per = ratios[`${target.scenario}/${target.variant}`]
    if (per === undefined) continue
    const value = spread(per[target.metric]).median
    const pass = target.op === '>=' ? value >= target.bound : value <= target.bound
    verdicts.push({ target: target.text, value, pass })
    lines.push(`  ${pass ? 'PASS' : 'MISS'}  ${target.text.padEnd(42)} measured ${fmt(value, 2)}`)
  }
  return { lines, ratios, verdicts }
}

async function main (): Promise<number> {
  const options = parseOptions()
  const wrk = wrkVersion()
  if (wrk === undefined) {
    process.stderr.write('bench:quick: wrk is not installed (or not on PATH). Install it with: apt-get install -y wrk\n')
    return 1
  }
  const scenarios = SCENARIOS.filter(s => options.only.has(s.name))
    .map(s => ({ ...s, variants: s.variants.filter(v => options.control || v.control !== true) }))
  const facts = machineFacts()
  const runsPerRound = scenarios.reduce((n, s) => n + s.variants.length, 0)
  const profRoot = options.cpuProf ? fileURLToPath(new URL(`./results/profiles/${new Date().toISOString().replace(/[:.]/g, '-')}`, import.meta.url)) : undefined

  const out = (line = ''): void => { process.stdout.write(line + '\n') }
  out('warmgate bench:quick')
  for (const [key, value] of Object.entries(facts)) out(`  ${key.padEnd(8)} ${value}`)
  out(`  rounds   ${options.rounds} x ${runsPerRound} runs, interleaved (per round, per scenario: inline, then the warm variants), each in a fresh gateway process`)
  out(`  run      ${options.warmupS} s warm-up (not counted) + ${options.durationS} s measured, same wrk settings for every variant of a scenario`)
  if (options.control) out('  control  hello also runs a bare node:http server (bench/lib/bare.ts, same body and headers, no gateway) last in each round: context, no target')
  out(`  settle   before each run, wait up to ${options.settleS} s for the machine to be quiet (< ${OTHER_LOAD_LIMIT} cores busy over 0.5 s); never drops a run`)
  out(`  logger   pino at level '${options.logLevel}'${options.logLevel === 'info' ? ' (access log on, as in production)' : ' (access log off: production logs one info line per request)'}`)
  for (const s of scenarios) out(`  wrk      ${s.name}: wrk ${wrkArgs(s.wrk, options.durationS, `http://127.0.0.1:PORT${s.path}`).join(' ').replace(/-s \S+report\.lua/, '-s src/bench/report.lua')}`)
  if (profRoot !== undefined) out(`  cpu-prof gateway children run with --cpu-prof, profiles in ${profRoot} (profiling slows them: numbers are not comparable)`)
  out(`  estimate ~${Math.ceil(options.rounds * runsPerRound * (options.warmupS + options.durationS + 1.5))} s, plus any settle waits`)
  out()

  const runs: RunResult[] = []
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      for (const variant of scenario.variants) {
        const r = await runOne(scenario, variant, round, options, profRoot)
        runs.push(r)
        out(`  [round ${round}/${options.rounds}] ${scenario.name.padEnd(5)} ${variant.label.padEnd(8)} ${fmt(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50Ms, 2).padStart(6)} ms  p99 ${fmt(r.p99Ms, 2).padStart(6)} ms  peak RSS ${fmt(r.peakRssMb).padStart(4)} MB  gw ${fmt(r.gatewayCores ?? Number.NaN, 2)} cores (main ${fmt(r.threadCores.MainThread ?? Number.NaN, 2)})  errors ${r.errors.total}  other ${fmt(r.otherCores ?? Number.NaN, 2)} cores${r.settle.quiet ? '' : `  (not quiet after ${fmt(r.settle.waitedS)} s)`}${r.logLines.length > 0 ? `  (${r.logLines.length} gateway log line(s))` : ''}`)
      }
    }
  }
  out()
  const { lines, ratios, verdicts } = report(runs, scenarios, options.rounds)
  for (const line of lines) out(line)

  const busy = runs.filter(r => (r.otherCores ?? 0) > OTHER_LOAD_LIMIT)
  if (busy.length > 0) {
    out()
    out(`NOTE: in ${busy.length} of ${runs.length} runs something else on this machine used more than ${OTHER_LOAD_LIMIT} cores (up to ${fmt(Math.max(...busy.map(r => r.otherCores ?? 0)), 2)});`)
    out(`      those numbers are disturbed (the runs are kept: no round is dropped). Load average now: ${loadavg().map(n => n.toFixed(2)).join(' ')}.`)
  }
  const failures = runs.filter(r => r.errors.rate > 0.01 || r.requests === 0)
  const logged = runs.filter(r => r.logLines.length > 0)
  if (logged.length > 0) {
    out()
    out(`Gateway log lines at level '${options.logLevel}' or above (first 5 per run):`)
    for (const r of logged) for (const line of r.logLines.slice(0, 5)) out(`  [round ${r.round} ${r.scenario} ${r.variant}] ${line.slice(0, 300)}`)
  }
  if (profRoot !== undefined) out(`\nCPU profiles: ${profRoot} (summarise with: node bench/lib/profile-summary.ts ${profRoot})`)

  if (options.json !== undefined) {
    writeFileSync(options.json, JSON.stringify({ facts, options: { ...options, only: [...options.only] }, scenarios, targets: TARGETS, runs, ratios, verdicts }, null, 2) + '\n')
    out(`\nResults written to ${options.json}`)
  }
  if (failures.length > 0) {
    out()
    for (const r of failures) out(`BENCH FAILED: round ${r.round} ${r.scenario} ${r.variant}: ${r.errors.total} errors in ${r.requests} requests (${JSON.stringify(r.errors)})`)
    return 1
  }
  return 0
}

await runBench('bench:quick', main)
