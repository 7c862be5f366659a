// CGI benchmark: cold mode and cgi apps against Node's start-up floor and lighttpd.
//
//   npm run bench:cgi -- [--rounds 3] [--duration 8] [--warmup 2] [--connections 4] [--seq 30]
//                        [--only floor,cold,cgi] [--json [FILE]] [--settle 10] [--log-level warn]
//
// Scenarios, run in interleaved rounds (round 1 runs every scenario once, then round 2, ...):
//   floor  `node -e 0` (the pinned Node: the binary the gateway's cold runner uses), `node -e 'new Response("")'`
//          (the fetch-API floor: Node loads undici, which Response needs, lazily) and `/bin/true`, each spawned
//          and waited for from this process, in turn, 20 times: the start-up floors.
//   cold   apps/hello.ts in cold mode (the warmgate CLI, concurrency 8) vs lighttpd mod_cgi running the same
//          handler through src/runtime/cold/cold.runner.cjs (a sh wrapper that execs it with the gateway's flags).
//          Per server: first a
//          sequential series (--seq requests one at a time over one keep-alive connection, each right after
//          a `node -e 0` and a fetch-API floor run, so latency and floors are taken in the same moments), then wrk.
//   cgi    a sh hello script as a cgi app (concurrency 16) vs the same file under lighttpd mod_cgi, wrk at
//          --connections and at 16.
// Each run: a fresh server process (127.0.0.1, free port), a check of status and body, a wrk warm-up that is
// not counted, the measured wrk run (VmRSS of the server process sampled every 100 ms, its live descendants
// every 250 ms, CPU of its whole process tree before and after), then the server is stopped and /proc is
// searched for any process it left behind. The two servers of a scenario swap order every round. Ratios
// gateway/lighttpd are taken within a round; the report shows the median over rounds. All on 127.0.0.1; every
// child process, wait and run is bounded (wrk is killed at duration + 15 s, a server that does not stop is
// SIGKILLed, lighttpd runs from a generated config in a temp dir that is removed at the end).
// Exit code: 0 with a report (targets passed or missed), 1 when the bench failed (a server that did not start
// or answer, or more than 1% wrk errors in a run: such a row is an error, never 0 req/s).
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { FLOOR_RUNS, fmt, OTHER_LOAD_LIMIT, report, SCENARIOS, TARGETS, type FloorResult, type Options, type RunResult, type ScenarioName, type ServerName } from './lib/cgi-report.ts'
import { startCliGateway, type Server } from './lib/cli-gateway.ts'
import { nodeBinary } from './lib/gateway-process.ts'
import { ensureLighttpd, LighttpdMissing, startLighttpd, type Lighttpd } from './lib/lighttpd.ts'
import { findLeftovers, readTreeCpu, sampleDescendants, snapshotDescendants } from './lib/proc-tree.ts'
import { readSystemBusySeconds, sampleRss, waitForQuiet } from './lib/proc.ts'
import { median } from './lib/stats.ts'
import { runWrk, wrkVersion } from './lib/wrk.ts'
import { BenchFailure, intOption, runBench } from './lib/args.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NODE = realpathSync(nodeBinary())
const RUNNER = join(ROOT, 'src/runtime/cold/cold.runner.cjs')
const HELLO = join(ROOT, 'apps/hello.ts')
/** The gateway's cold runtime sets this for its runner (src/runtime/cold/cold-runtime.ts COMPILE_CACHE). */
const COMPILE_CACHE = join(tmpdir(), 'warmgate-compile-cache')
const MB = 1024 * 1024
/** What every fetch-style handler pays before its first line: Node loads undici, which Response needs, lazily. */
const FETCH_FLOOR_ARGS = ['-e', 'new Response("")']

function parseOptions (): Options {
  // `--json` alone writes bench/results/cgi.json (parseArgs has no optional values).
  const argv = process.argv.slice(2)
  const at = argv.indexOf('--json')
  if (at !== -1 && (at === argv.length - 1 || argv[at + 1].startsWith('--'))) argv.splice(at + 1, 0, join(ROOT, 'bench/results/cgi.json'))
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '4' },
      seq: { type: 'string', default: '30' },
      only: { type: 'string', default: SCENARIOS.join(',') },
      json: { type: 'string' },
      settle: { type: 'string', default: '10' },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write('npm run bench:cgi -- [--rounds 3] [--duration 8] [--warmup 2] [--connections 4] [--seq 30] [--only floor,cold,cgi] [--json [FILE]] [--settle 10] [--log-level warn]\n')
    process.exit(0)
  }
  const only = new Set(values.only.split(',').map(s => s.trim()).filter(Boolean)) as Set<ScenarioName>
  for (const name of only) if (!SCENARIOS.includes(name)) throw new BenchFailure(`--only: unknown scenario '${name}' (expected ${SCENARIOS.join(', ')})`)
  if (!['warn', 'error', 'silent', 'info'].includes(values['log-level'])) throw new BenchFailure(`--log-level: expected warn, error, silent or info, got '${values['log-level']}'`)
  return {
    rounds: intOption('rounds', values.rounds, 1, 20),
    durationS: intOption('duration', values.duration, 1, 120),
    warmupS: intOption('warmup', values.warmup, 0, 10),
    connections: intOption('connections', values.connections, 1, 256),
    seq: intOption('seq', values.seq, 5, 200),
    only,
    json: values.json,
    settleS: intOption('settle', values.settle, 0, 120),
    logLevel: values['log-level'],
  }
}

/** Everything the servers run, in one temp dir: gateway configs, lighttpd's docroot with both scripts. */
function writeFixtures (dir: string, tag: string): { docroot: string, cgiDir: string, coldConfig: string, cgiConfig: string } {
  const docroot = join(dir, 'docroot')
  const cgiDir = join(docroot, 'cgi-bin')
  mkdirSync(cgiDir, { recursive: true })
  writeFileSync(join(cgiDir, 'hello.sh'), "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhello\\n'\n")
  // The tag marks every process this wrapper becomes, so that a leftover is found after the run.
  writeFileSync(join(cgiDir, 'hello.cgi'), `#!/bin/sh\nexport NODE_COMPILE_CACHE=${COMPILE_CACHE}\nexport WARMGATE_BENCH_TAG=${tag}\nexec ${NODE} --disable-warning=ExperimentalWarning --expose-internals ${RUNNER} ${HELLO}\n`)
  for (const name of ['hello.sh', 'hello.cgi']) chmodSync(join(cgiDir, name), 0o755)
  const q = JSON.stringify
  const coldConfig = join(dir, 'cold.config.mjs')
  writeFileSync(coldConfig, `export default { apps: { hello: { route: '/hello', entry: ${q(HELLO)}, mode: 'cold', concurrency: 8, passEnv: ['WARMGATE_BENCH_TAG'] } } }\n`)
  const cgiConfig = join(dir, 'cgi.config.mjs')
  writeFileSync(cgiConfig, `export default { apps: { cgi: { route: '/cgi-bin', cgi: ${q(cgiDir)}, concurrency: 16, passEnv: ['WARMGATE_BENCH_TAG'] } } }\n`)
  return { docroot, cgiDir, coldConfig, cgiConfig }
}

/** Wall time of spawning `file` and waiting for it, from this process (stdio ignored). */
function spawnWallMs (file: string, args: string[]): number {
  const t0 = performance.now()
  const result = spawnSync(file, args, { stdio: 'ignore', timeout: 10_000 })
  const ms = performance.now() - t0
  if (result.status !== 0) throw new BenchFailure(`${file} ${args.join(' ')} exited with ${result.status ?? result.signal}`)
  return ms
}

function measureFloor (round: number): FloorResult {
  const nodeMs: number[] = []
  const fetchMs: number[] = []
  const trueMs: number[] = []
  spawnWallMs(NODE, ['-e', '0']) // page cache, not counted
  for (let i = 0; i < FLOOR_RUNS; i++) {
    nodeMs.push(spawnWallMs(NODE, ['-e', '0']))
    fetchMs.push(spawnWallMs(NODE, FETCH_FLOOR_ARGS))
    trueMs.push(spawnWallMs('/bin/true', []))
  }
  return { round, nodeMs, fetchMs, trueMs }
}

async function checkResponse (url: string, expect: string): Promise<void> {
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  } catch (error) {
    throw new Error(`${url} is unreachable: ${(error as Error).message} ${(error as { cause?: Error }).cause?.message ?? ''}`)
  }
  const body = await res.text()
  if (res.status !== 200 || !body.includes(expect)) throw new Error(`sanity check of ${url} failed: status ${res.status}, body ${JSON.stringify(body.slice(0, 200))}`)
}

/** One request at a time over one keep-alive connection, each right after a paired `node -e 0`. */
async function sequentialSeries (url: string, count: number): Promise<NonNullable<RunResult['seq']>> {
  const target = new URL(url)
  const client = new Client(target.origin, { headersTimeout: 10_000, bodyTimeout: 10_000 })
  const latencyMs: number[] = []
  const floorMs: number[] = []
  const fetchFloorMs: number[] = []
  try {
    for (let i = 0; i < count; i++) {
      floorMs.push(spawnWallMs(NODE, ['-e', '0']))
      fetchFloorMs.push(spawnWallMs(NODE, FETCH_FLOOR_ARGS))
      const t0 = performance.now()
      const res = await client.request({ path: target.pathname, method: 'GET' })
      await res.body.text()
      latencyMs.push(performance.now() - t0)
      if (res.statusCode !== 200) throw new Error(`sequential request ${i + 1} answered ${res.statusCode}`)
    }
  } finally {
    await client.close()
  }
  return { latencyMs, floorMs, fetchFloorMs }
}

interface RunSpec { round: number, scenario: 'cold' | 'cgi', server: ServerName, connections: number, path: string, expect: string }

async function runOne (spec: RunSpec, ctx: { options: Options, lighttpd: Lighttpd, fixtures: ReturnType<typeof writeFixtures>, workDir: string, tag: string }): Promise<RunResult> {
  const result: RunResult = {
    round: spec.round, scenario: spec.scenario, server: spec.server, connections: spec.connections,
    rps: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN, requests: 0,
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0, total: 0, rate: 1 },
    peakRssMb: Number.NaN, serverCores: Number.NaN, cpuMsPerRequest: Number.NaN, maxChildren: 0, otherCores: Number.NaN,
    leftovers: [], logLines: [],
  }
  await waitForQuiet(ctx.options.settleS * 1000, OTHER_LOAD_LIMIT)
  let server: Server | undefined
  try {
    if (spec.server === 'gateway') {
      server = await startCliGateway({ node: NODE, config: spec.scenario === 'cold' ? ctx.fixtures.coldConfig : ctx.fixtures.cgiConfig, logLevel: ctx.options.logLevel, env: { ...process.env, WARMGATE_BENCH_TAG: ctx.tag } })
    } else {
      const lt = await startLighttpd(ctx.lighttpd, { docroot: ctx.fixtures.docroot, workDir: ctx.workDir, cgiExtensions: ['.sh', '.cgi'] })
      server = { url: lt.url, pid: lt.pid, logLines: () => lt.errorLog().filter(line => !line.includes('server started') && !line.includes('server stopped')), stop: lt.stop }
    }
    const url = server.url + spec.path
    await checkResponse(url, spec.expect)
    if (spec.scenario === 'cold') result.seq = await sequentialSeries(url, ctx.options.seq)
    const wrk = { threads: 1, connections: spec.connections, timeoutS: 5 }
    if (ctx.options.warmupS > 0) await runWrk(wrk, ctx.options.warmupS, url)

    const cpuBefore = readTreeCpu(server.pid)
    const sysBefore = readSystemBusySeconds()
    const started = performance.now()
    const rss = sampleRss(server.pid, 100)
    const children = sampleDescendants(server.pid, 250)
    let measured: Awaited<ReturnType<typeof runWrk>>
    try {
      measured = await runWrk(wrk, ctx.options.durationS, url)
    } finally {
      result.peakRssMb = rss.stop().peakRss / MB
      result.maxChildren = children.stop()
    }
    const wallS = (performance.now() - started) / 1000
    const cpuAfter = readTreeCpu(server.pid)
    const sysAfter = readSystemBusySeconds()
    const w = measured.report
    const serverCpu = cpuAfter === undefined || cpuBefore === undefined ? Number.NaN : cpuAfter - cpuBefore
    const total = w.err_connect + w.err_read + w.err_write + w.err_timeout + w.err_status
    Object.assign(result, {
      wrk: w,
      rps: w.requests / (w.duration_us / 1e6),
      p50Ms: w.p50_us / 1000,
      p99Ms: w.p99_us / 1000,
      requests: w.requests,
      errors: { connect: w.err_connect, read: w.err_read, write: w.err_write, timeout: w.err_timeout, status: w.err_status, total, rate: w.requests === 0 ? 1 : total / w.requests },
      serverCores: serverCpu / wallS,
      cpuMsPerRequest: w.requests === 0 ? Number.NaN : 1000 * serverCpu / w.requests,
      otherCores: sysBefore === undefined || sysAfter === undefined ? Number.NaN : Math.max(0, sysAfter - sysBefore - serverCpu - (measured.cpuSeconds ?? 0)) / wallS,
    })
    if (cpuAfter === undefined) throw new Error(`the server process died during the measured run (wrk: ${w.requests} requests, ${JSON.stringify(result.errors)})`)
    if (w.requests === 0) throw new Error(`wrk completed no request (${JSON.stringify(result.errors)})`)
    if (result.errors.rate > 0.01) throw new Error(`${total} wrk errors in ${w.requests} requests (${(100 * result.errors.rate).toFixed(1)}% > 1%): ${JSON.stringify(result.errors)}`)
  } catch (error) {
    result.error = (error as Error).message
  } finally {
    if (server !== undefined) {
      const before = snapshotDescendants(server.pid)
      await server.stop()
      result.logLines = server.logLines()
      // What the server left behind: processes tagged by this bench, or running a script from its temp dir.
      result.leftovers = await findLeftovers({ before, tag: ctx.tag, dir: ctx.workDir, graceMs: 3000 })
    }
  }
  return result
}

function machineFacts (lighttpd: Lighttpd | undefined): Record<string, string> {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim()
    } catch {
      return '?'
    }
  }
  const dirty = git(['status', '--porcelain', '--', 'src']) !== ''
  return {
    node: `${execFileSync(NODE, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim()} (${NODE})`,
    cpus: `${cpus().length} (availableParallelism ${availableParallelism()}; ${cpus()[0]?.model ?? '?'})`,
    loadavg: loadavg().map(n => n.toFixed(2)).join(' '),
    memory: `${(totalmem() / MB / 1024).toFixed(1)} GB`,
    kernel: release(),
    wrk: wrkVersion() ?? 'missing',
    lighttpd: lighttpd === undefined ? 'not needed (--only)' : `${lighttpd.version} (${lighttpd.binary}${lighttpd.installed ? ', installed by this run' : ''})`,
    git: `${git(['rev-parse', '--short', 'HEAD'])}${dirty ? ' (src/ has uncommitted changes)' : ''}`,
  }
}

async function main (): Promise<number> {
  const options = parseOptions()
  const out = (line = ''): void => { process.stdout.write(line + '\n') }
  if (wrkVersion() === undefined) {
    process.stderr.write('bench:cgi: wrk is not installed (or not on PATH). Install it with: apt-get install -y wrk\n')
    return 1
  }
  const needServers = options.only.has('cold') || options.only.has('cgi')
  let lighttpd: Lighttpd | undefined
  if (needServers) {
    try {
      lighttpd = ensureLighttpd(line => out(`bench:cgi: ${line}`))
    } catch (error) {
      if (error instanceof LighttpdMissing) {
        process.stderr.write(`bench:cgi: ${error.message}\n`)
        return 1
      }
      throw error
    }
  }
  const workDir = mkdtempSync(join(tmpdir(), 'warmgate-bench-cgi-'))
  cleanup.push(() => rmSync(workDir, { recursive: true, force: true }))
  const tag = `wgbench-${process.pid}-${Date.now()}`
  const fixtures = writeFixtures(workDir, tag)

  const facts = machineFacts(lighttpd)
  const conns = [...new Set([options.connections, 16])]
  const perRound = (options.only.has('cold') ? 2 : 0) + (options.only.has('cgi') ? 2 * conns.length : 0)
  out('warmgate bench:cgi')
  for (const [key, value] of Object.entries(facts)) out(`  ${key.padEnd(8)} ${value}`)
  out(`  rounds   ${options.rounds}, interleaved; per round: ${[...options.only].join(', ')} (${perRound} server runs, gateway and lighttpd swap order every round)`)
  out(`  run      ${options.warmupS} s wrk warm-up (not counted) + ${options.durationS} s measured, wrk -t1 --timeout 5s; cold: ${options.seq} sequential requests first`)
  out(`  cold     warmgate CLI, apps/hello.ts mode 'cold' concurrency 8 | lighttpd: docroot/cgi-bin/hello.cgi = sh wrapper, exec node --expose-internals cold.runner.cjs apps/hello.ts`)
  out(`  cgi      warmgate CLI, cgi app concurrency 16 | lighttpd: the same file, docroot/cgi-bin/hello.sh; c=${conns.join(' and c=')}`)
  out(`  settle   before each run, wait up to ${options.settleS} s for < ${OTHER_LOAD_LIMIT} busy cores; never drops a run`)
  out(`  estimate ~${Math.ceil(options.rounds * (3 + perRound * (options.warmupS + options.durationS + 2) + (options.only.has('cold') ? 2 * options.seq * 0.2 : 0)))} s, plus settle waits`)
  out()

  const floors: FloorResult[] = []
  const runs: RunResult[] = []
  for (let round = 1; round <= options.rounds; round++) {
    if (options.only.has('floor')) {
      await waitForQuiet(options.settleS * 1000, OTHER_LOAD_LIMIT)
      const f = measureFloor(round)
      floors.push(f)
      out(`  [round ${round}/${options.rounds}] floor  node -e 0 median ${fmt(median(f.nodeMs), 1)} ms (min ${fmt(Math.min(...f.nodeMs), 1)}), fetch-API floor ${fmt(median(f.fetchMs), 1)} ms, /bin/true median ${fmt(median(f.trueMs), 1)} ms`)
    }
    const order: ServerName[] = round % 2 === 1 ? ['gateway', 'lighttpd'] : ['lighttpd', 'gateway']
    const specs: RunSpec[] = []
    if (options.only.has('cold')) for (const server of order) specs.push({ round, scenario: 'cold', server, connections: options.connections, path: server === 'gateway' ? '/hello' : '/cgi-bin/hello.cgi', expect: 'Hello, world!' })
    if (options.only.has('cgi')) for (const c of conns) for (const server of order) specs.push({ round, scenario: 'cgi', server, connections: c, path: '/cgi-bin/hello.sh', expect: 'hello' })
    for (const spec of specs) {
      const r = await runOne(spec, { options, lighttpd: lighttpd as Lighttpd, fixtures, workDir, tag })
      runs.push(r)
      const seq = r.seq === undefined ? '' : `  seq ${fmt(median(r.seq.latencyMs), 1)} ms (floors ${fmt(median(r.seq.floorMs), 1)} / ${fmt(median(r.seq.fetchFloorMs), 1)})`
      const what = `${r.scenario.padEnd(4)} ${r.server.padEnd(8)} c=${String(r.connections).padEnd(3)}`
      if (r.error !== undefined) out(`  [round ${round}/${options.rounds}] ${what} ERROR: ${r.error.split('\n')[0]}`)
      else out(`  [round ${round}/${options.rounds}] ${what} ${fmt(r.rps, 1).padStart(7)} req/s  p50 ${fmt(r.p50Ms, 1).padStart(6)} ms  p99 ${fmt(r.p99Ms, 1).padStart(6)} ms${seq}  RSS ${fmt(r.peakRssMb)} MB  cores ${fmt(r.serverCores, 2)}  children ≤${r.maxChildren}  errors ${r.errors.total}  left ${r.leftovers.length}  other ${fmt(r.otherCores, 2)}`)
    }
  }
  out()
  const { lines, ratios, verdicts } = report(floors, runs, options, NODE.replace(ROOT, ''))
  for (const line of lines) out(line)

  const failed = runs.filter(r => r.error !== undefined)
  const leftover = runs.filter(r => r.leftovers.length > 0)
  const busy = runs.filter(r => r.otherCores > OTHER_LOAD_LIMIT)
  if (busy.length > 0) out(`\nNOTE: in ${busy.length} of ${runs.length} runs other work on this machine used more than ${OTHER_LOAD_LIMIT} cores (up to ${fmt(Math.max(...busy.map(r => r.otherCores)), 2)}); kept all the same.`)
  const logged = runs.filter(r => r.logLines.length > 0)
  if (logged.length > 0) {
    out(`\nServer log lines (gateway at '${options.logLevel}', lighttpd's error log; first 3 per run):`)
    for (const r of logged) for (const line of r.logLines.slice(0, 3)) out(`  [round ${r.round} ${r.scenario} ${r.server} c=${r.connections}] ${line.slice(0, 300)}`)
  }
  if (leftover.length > 0) {
    out('\nProcesses left after a server was stopped (killed by the bench):')
    for (const r of leftover) for (const p of r.leftovers.slice(0, 5)) out(`  [round ${r.round} ${r.scenario} ${r.server} c=${r.connections}] pid ${p.pid} state ${p.state}: ${p.cmdline.slice(0, 200)}`)
  }
  if (options.json !== undefined) {
    mkdirSync(join(options.json, '..'), { recursive: true })
    writeFileSync(options.json, JSON.stringify({ facts, options: { ...options, only: [...options.only] }, targets: TARGETS, floors, runs, ratios, verdicts }, null, 2) + '\n')
    out(`\nResults written to ${options.json}`)
  }
  if (failed.length > 0) {
    out()
    for (const r of failed) out(`BENCH FAILED: round ${r.round} ${r.scenario} ${r.server} c=${r.connections}: ${r.error}`)
    return 1
  }
  return 0
}

const cleanup: Array<() => void> = []
const runCleanup = (): void => { for (const fn of cleanup.splice(0)) try { fn() } catch {} }
await runBench('bench:cgi', main, runCleanup)
