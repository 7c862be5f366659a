// Peers, in the same run: the gateway's workloads next to what else could serve them.
//
//   npm run bench:peers -- [--rounds 2] [--duration 3] [--warmup 1] [--only hello,cpu,io,big] [--json FILE]
//                          [--settle 0] [--cpu-prof]
//
// Workloads (the same handler modules the gateway runs): hello (apps/hello.ts), cpu (apps/cpu.ts, n=7000: ~1 ms of PBKDF2),
// io (apps/io.ts: awaits 20 ms), big (apps/big.ts: a 1 MiB body). Peers per workload:
//   warmgate inline, warmgate warm 2  the gateway (bench/lib/serve.ts), inline and with 2 warm workers
//   warmgate --processes 2            `warmgate start --processes 2` (the CLI: a supervisor and 2 gateway
//                                     processes on one port, each warm with 1 worker; hello, cpu)
//   warmgate --processes 2 inline     the same, the app inline: each process answers on its own event loop,
//                                     the shape of Watt's workers (hello, cpu)
//   bare node:http                    node:http calling the same handler (web Request in, Response read whole
//                                     and sent): the ceiling for a fetch-style handler on one thread
//   fastify                           Fastify calling the same handler, converted the same way
//   fastify native                    Fastify's own route answering the same body ("Fastify hello world", what
//                                     a user would write; hello only): the baseline of the issue's target
//   srvx                              srvx's Node adapter calling the same handler, FastResponse as the global
//                                     Response (srvx's fast path; bench/lib/fetch-peer.ts; hello, cpu)
//   hono node-server                  a Hono app mounting the same handler on @hono/node-server (hello, cpu)
//   watt 1 worker, watt 2 workers     Platformatic Watt (`wattpm start`), one @platformatic/node app whose
//                                     node:http server answers the same body itself (bench/lib/watt.ts; hello, cpu)
//   lighttpd mod_cgi                  lighttpd running apps/cgi-bin/hello.sh (hello only): the classic CGI host
//   nginx static                      nginx serving a file with the same body (hello, big): the machine's ceiling
// All measured with the same wrk settings per workload, in interleaved rounds: each round runs every
// workload's peers once (the peer order rotates by one each round), each run in a fresh server process:
// start, check status and body, wrk warm-up (not counted), measured wrk run, stop. Ratios to warmgate inline
// and to bare node:http are taken within a round; the tables show the median over rounds, and the targets
// (bench/lib/peers-targets.ts) are judged on the median of per-round ratios. CPU per request and peak RSS are
// of the server's whole process tree. srvx, @hono/node-server and Watt are npm-installed at pinned versions
// into a scratch dir (bench/lib/peer-packages.ts), once, and reused. Only 127.0.0.1; every child is bounded
// and stopped by its pid (wrk at duration + 15 s; lighttpd and nginx run in the foreground from generated
// configs in a temp dir that is removed at the end). lighttpd/nginx are installed with apt-get when missing
// (as root); a peer that cannot be had is listed as skipped with the reason.
// Exit code: 0 with a report (target passed or missed), 1 when a run failed or the bench itself did.
import { rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { nodeBinary, startGateway, startServerProcess } from './lib/gateway-process.ts'
import { startLighttpd } from './lib/lighttpd.ts'
import { startNginx } from './lib/nginx.ts'
import { startCliGateway } from './lib/cli-gateway.ts'
import { PEER_PACKAGES } from './lib/peer-packages.ts'
import { fmt, OTHER_LOAD_LIMIT, REFERENCE, targetVerdict, workloadTable, WORKLOADS, wrkSummary, type PeerName, type RunResult, type Workload } from './lib/peers-report.ts'
import { machineFacts, prepare, type Setup } from './lib/peers-setup.ts'
import { judgeTargets, targetLines } from './lib/peers-targets.ts'
import { readTreeCpu, sampleTreeRss } from './lib/proc-tree.ts'
import { readSystemBusySeconds, waitForQuiet } from './lib/proc.ts'
import { freePort, startWatt, writeWattProject } from './lib/watt.ts'
import { runWrk, wrkArgs, wrkVersion } from './lib/wrk.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NODE_PEER = join(ROOT, 'bench/lib/node-peer.ts')
const FETCH_PEER = join(ROOT, 'bench/lib/fetch-peer.ts')

interface Options { rounds: number, durationS: number, warmupS: number, only: Set<string>, json?: string, settleS: number, cpuProf: boolean }

interface Server { url: string, pid: number, logLines: () => string[], stop: () => Promise<void> }

function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      duration: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      only: { type: 'string', default: WORKLOADS.map(w => w.name).join(',') },
      json: { type: 'string' },
      settle: { type: 'string', default: '0' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write('npm run bench:peers -- [--rounds 2] [--duration 3] [--warmup 1] [--only hello,cpu,io,big] [--json FILE] [--settle 0] [--cpu-prof]\n')
    process.exit(0)
  }
  const only = new Set(values.only.split(',').map(s => s.trim()).filter(Boolean))
  for (const name of only) if (!WORKLOADS.some(w => w.name === name)) throw new BenchFailure(`--only: unknown workload '${name}' (expected ${WORKLOADS.map(w => w.name).join(', ')})`)
  return {
    rounds: intOption('rounds', values.rounds, 1, 20),
    durationS: intOption('duration', values.duration, 1, 60),
    warmupS: intOption('warmup', values.warmup, 0, 10),
    only,
    json: values.json,
    settleS: intOption('settle', values.settle, 0, 60),
    cpuProf: values['cpu-prof'],
  }
}

let nginxRuns = 0
let wattRuns = 0
/** Set on SIGINT/SIGTERM: runBench is stopping every child, so no new one may start (it would outlive us). */
let interrupted = false
process.once('SIGINT', () => { interrupted = true })
process.once('SIGTERM', () => { interrupted = true })

/** Starts one peer for one workload; resolves with its URL for that workload (path included). */
async function startPeer (peer: PeerName, workload: Workload, setup: Setup, profDir: string | undefined): Promise<{ server: Server, url: string }> {
  if (interrupted) throw new Error('interrupted')
  const node = async (server: string, script = NODE_PEER, extra: string[] = []): Promise<{ server: Server, url: string }> => {
    const child = await startServerProcess(script, ['--server', server, '--app', workload.name, ...extra], profDir)
    return { server: { url: child.url, pid: child.pid, logLines: () => child.logLines, stop: child.stop }, url: child.url + workload.path }
  }
  const packages = (): NonNullable<Setup['packages']> => {
    if (setup.packages === undefined) throw new Error('the scratch packages are not installed')
    return setup.packages
  }
  switch (peer) {
    case 'warmgate inline':
    case 'warmgate warm 2': {
      const warm = peer === 'warmgate warm 2'
      const gateway = await startGateway({ app: workload.name, mode: warm ? 'warm' : 'inline', workers: warm ? { min: 2, max: 2 } : undefined, logLevel: 'warn', cpuProfDir: profDir })
      return { server: { url: gateway.url, pid: gateway.pid, logLines: () => gateway.logLines, stop: gateway.stop }, url: gateway.url + workload.path }
    }
    case 'warmgate --processes 2':
    case 'warmgate --processes 2 inline': {
      const config = (peer === 'warmgate --processes 2' ? setup.cliConfigs : setup.cliInlineConfigs)[workload.name]
      if (config === undefined) throw new Error(`no CLI config for ${workload.name}`)
      const server = await startCliGateway({ node: nodeBinary(), config, logLevel: 'warn', env: process.env, args: ['--processes', '2'] }, 60_000)
      return { server, url: server.url + workload.path }
    }
    case 'srvx': return node('srvx', FETCH_PEER, ['--packages', packages().dir])
    case 'hono node-server': return node('hono', FETCH_PEER, ['--packages', packages().dir])
    case 'watt 1 worker':
    case 'watt 2 workers': {
      const dir = join(setup.dir, `watt-${++wattRuns}`)
      const port = await freePort()
      writeWattProject(dir, { port, workers: peer === 'watt 2 workers' ? 2 : 1, wattVersion: PEER_PACKAGES.wattpm, nodeVersion: PEER_PACKAGES['@platformatic/node'] })
      const server = await startWatt({ wattpm: packages().wattpm, dir, port })
      return { server, url: server.url + workload.path }
    }
    case 'bare node:http': return node('bare')
    case 'fastify': return node('fastify')
    case 'fastify native': return node('fastify-native')
    case 'lighttpd mod_cgi': {
      if (setup.lighttpd === undefined) throw new Error('lighttpd is not available')
      const server = await startLighttpd(setup.lighttpd, { docroot: setup.cgiDocroot, workDir: setup.dir, cgiExtensions: ['.sh'] })
      return { server: { url: server.url, pid: server.pid, logLines: server.errorLog, stop: server.stop }, url: `${server.url}/cgi-bin/hello.sh` }
    }
    case 'nginx static': {
      if (setup.nginx === undefined) throw new Error('nginx is not available')
      const server = await startNginx(setup.nginx, { docroot: setup.staticRoot, prefix: join(setup.dir, `nginx-${++nginxRuns}`) })
      return { server: { url: server.url, pid: server.pid, logLines: server.errorLog, stop: server.stop }, url: server.url + workload.path }
    }
  }
}

async function checkResponse (url: string, workload: Workload): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const body = await res.text()
  const sizeOk = workload.bytes === undefined || Buffer.byteLength(body) === workload.bytes
  if (res.status !== 200 || !body.includes(workload.expect) || !sizeOk) {
    throw new Error(`check of ${url} failed: status ${res.status}, ${Buffer.byteLength(body)} bytes, body ${JSON.stringify(body.slice(0, 120))}`)
  }
}

async function runOne (workload: Workload, peer: PeerName, round: number, setup: Setup, options: Options): Promise<RunResult> {
  const base: RunResult = {
    round, workload: workload.name, peer, rps: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN, maxMs: Number.NaN, requests: 0, mbPerS: Number.NaN,
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0, total: 0 }, serverCores: undefined, cpuUsPerReq: undefined, peakRssBytes: undefined,
    wrkCores: undefined, otherCores: undefined, logLines: [],
  }
  if (options.settleS > 0) await waitForQuiet(options.settleS * 1000, OTHER_LOAD_LIMIT)
  const profDir = setup.profRoot === undefined ? undefined : join(setup.profRoot, `r${round}-${workload.name}-${peer.replace(/\W+/g, '-')}`)
  let started: { server: Server, url: string }
  try {
    started = await startPeer(peer, workload, setup, profDir)
    // Started while the signal handler was already stopping the others: stop this one too.
    if (interrupted) {
      await started.server.stop()
      throw new Error('interrupted')
    }
  } catch (error) {
    return { ...base, failed: `did not start: ${(error as Error).message}` }
  }
  const { server, url } = started
  // The whole tree's RSS (the --processes supervisor and its gateways; a Watt process with its worker threads)
  // from start to the end of the measured run: every 250 ms, which costs the bench a few ms of CPU a second.
  const rss = sampleTreeRss(server.pid, 250)
  try {
    await checkResponse(url, workload)
    if (options.warmupS > 0) await runWrk(workload.wrk, options.warmupS, url)
    const cpuBefore = readTreeCpu(server.pid)
    const sysBefore = readSystemBusySeconds()
    const t0 = performance.now()
    const measured = await runWrk(workload.wrk, options.durationS, url)
    const wallS = (performance.now() - t0) / 1000
    const cpuAfter = readTreeCpu(server.pid)
    const sysAfter = readSystemBusySeconds()
    const peakRssBytes = rss.stop()
    const serverCpu = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
    const other = sysBefore === undefined || sysAfter === undefined || serverCpu === undefined || measured.cpuSeconds === undefined
      ? undefined
      : Math.max(0, sysAfter - sysBefore - serverCpu - measured.cpuSeconds)
    const result: RunResult = {
      ...base,
      ...wrkSummary(measured.report),
      serverCores: serverCpu === undefined ? undefined : serverCpu / wallS,
      cpuUsPerReq: serverCpu === undefined || measured.report.requests === 0 ? undefined : 1e6 * serverCpu / measured.report.requests,
      peakRssBytes: peakRssBytes > 0 ? peakRssBytes : undefined,
      wrkCores: measured.cpuSeconds === undefined ? undefined : measured.cpuSeconds / wallS,
      otherCores: other === undefined ? undefined : other / wallS,
      wrk: measured.report,
    }
    if (result.requests === 0 || result.errors.total / result.requests > 0.01) result.failed = `${result.errors.total} errors in ${result.requests} requests (${JSON.stringify(result.errors)})`
    return result
  } catch (error) {
    return { ...base, failed: (error as Error).message }
  } finally {
    rss.stop()
    await server.stop()
    base.logLines.push(...server.logLines().slice(0, 20))
  }
}

let tempDir: string | undefined

async function main (): Promise<number> {
  const options = parseOptions()
  if (wrkVersion() === undefined) throw new BenchFailure('wrk is not installed (or not on PATH). Install it with: apt-get install -y wrk')
  const out = (line = ''): void => { process.stdout.write(line + '\n') }
  const workloads = WORKLOADS.filter(w => options.only.has(w.name))
  const { setup, skipped } = prepare(workloads, options, out)
  tempDir = setup.dir
  const facts = machineFacts(setup)
  const plan = workloads.map(w => ({ ...w, peers: w.peers.filter(p => !skipped.some(s => s.peer === p)) }))
  const runsPerRound = plan.reduce((n, w) => n + w.peers.length, 0)

  out('warmgate bench:peers')
  for (const [key, value] of Object.entries(facts)) out(`  ${key.padEnd(8)} ${value}`)
  out(`  rounds   ${options.rounds} x ${runsPerRound} runs, interleaved (each round: every workload's peers, order rotated by one per round), each in a fresh server process`)
  out(`  run      ${options.warmupS} s wrk warm-up (not counted) + ${options.durationS} s measured, the same wrk settings for every peer of a workload`)
  for (const w of plan) out(`  wrk      ${w.name}: wrk ${wrkArgs(w.wrk, options.durationS, `http://127.0.0.1:PORT${w.path}`).join(' ').replace(/-s \S+report\.lua/, '-s src/bench/report.lua')}`)
  out('  peers    warmgate inline / warm 2 (2 worker threads); bare node:http and fastify: the same handler module, web Request in,')
  out('           Response read whole and sent; fastify native: Fastify\'s own route with the same body (hello only: the target\'s baseline);')
  out('           lighttpd mod_cgi: apps/cgi-bin/hello.sh (hello only); nginx static: a file with the same body (1 worker; hello, big)')
  out('           warmgate --processes 2: the CLI, a supervisor + 2 gateway processes (warm, 1 worker each; "inline": the app inline); srvx (FastResponse as the')
  out('           global Response) and a Hono app on @hono/node-server: the same handler module; watt 1 worker / 2 workers: wattpm start,')
  out('           one @platformatic/node app (node:http, the same body; logger warn, metrics and management API off); one process, workers are threads')
  for (const s of skipped) out(`  skipped  ${s.peer}: ${s.reason}`)
  if (setup.profRoot !== undefined) out(`  cpu-prof node servers run with --cpu-prof, profiles in ${setup.profRoot} (profiling slows them: numbers are not comparable)`)
  out(`  estimate ~${Math.ceil(options.rounds * runsPerRound * (options.warmupS + options.durationS + 0.4))} s`)
  out()

  const runs: RunResult[] = []
  for (let round = 1; round <= options.rounds; round++) {
    for (const workload of plan) {
      const shift = (round - 1) % workload.peers.length
      for (const peer of [...workload.peers.slice(shift), ...workload.peers.slice(0, shift)]) {
        if (interrupted) return 130
        const r = await runOne(workload, peer, round, setup, options)
        runs.push(r)
        out(`  [round ${round}/${options.rounds}] ${workload.name.padEnd(5)} ${peer.padEnd(22)} ${r.failed !== undefined
          ? `FAILED: ${r.failed.split('\n')[0].slice(0, 200)}`
          : `${fmt(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50Ms, 2).padStart(6)} ms  p99 ${fmt(r.p99Ms, 2).padStart(6)} ms  server ${fmt(r.serverCores ?? Number.NaN, 2)} cores  wrk ${fmt(r.wrkCores ?? Number.NaN, 2)}  other ${fmt(r.otherCores ?? Number.NaN, 2)}  errors ${r.errors.total}`}`)
      }
    }
  }

  if (interrupted) return 130
  out()
  out(`Medians over ${options.rounds} round(s), (min–max) across rounds; latency and MB/s from wrk. x inline, x bare: req/s of the peer / req/s of`)
  out('warmgate inline (bare node:http) in the same round (values in round order), median. server cores: CPU time of the server\'s process')
  out('tree / wall time; CPU µs/req: that CPU time over the measured run / requests answered (less sensitive to other load than req/s;')
  out('lighttpd\'s includes its CGI children). peak RSS: the largest sum of VmRSS over the process tree, sampled every 250 ms from start')
  out('to the end of the measured run: warmgate --processes 2 is 3 processes (supervisor + 2 gateways), nginx 2 (master + worker),')
  out('lighttpd its CGI children too; Watt is one process (its workers are threads), as are the other node servers.')
  out(`  * something else on the machine used more than ${OTHER_LOAD_LIMIT} cores during one of the two runs of that ratio (kept all the same).`)
  for (const w of workloads) {
    out()
    out(`${w.name} (${w.path}, wrk -t${w.wrk.threads} -c${w.wrk.connections})`)
    out(workloadTable(w, runs, skipped))
  }
  out()
  const verdicts = (['fastify native', 'fastify'] as PeerName[]).map(peer => targetVerdict(runs, peer))
  out('Target, on the median of the per-round ratios:')
  const [native, converted] = verdicts
  if (native === undefined) out('  n/a   inline >= 0.95 x Fastify hello world: no round has both warmgate inline and fastify native on hello')
  else out(`  ${native.pass ? 'PASS' : 'MISS'}  inline >= 0.95 x Fastify hello world (fastify native)   measured ${fmt(native.value, 2)} (${native.perRound.map(v => fmt(v, 2)).join(' ')})`)
  if (converted !== undefined) out(`  info  inline vs fastify calling the same handler (web Request/Response)   ${fmt(converted.value, 2)} (${converted.perRound.map(v => fmt(v, 2)).join(' ')})`)
  const targets = judgeTargets(runs)
  out()
  out('Targets against the fastest fetch servers, bare node:http and Watt, on the median of the per-round ratios (values in round order):')
  for (const line of targetLines(targets)) out(line)

  const disturbed = runs.filter(r => (r.otherCores ?? 0) > OTHER_LOAD_LIMIT)
  if (disturbed.length > 0) out(`\nNOTE: in ${disturbed.length} of ${runs.length} runs something else used more than ${OTHER_LOAD_LIMIT} cores (up to ${fmt(Math.max(...disturbed.map(r => r.otherCores ?? 0)), 2)}). Load average now: ${loadavg().map(n => n.toFixed(2)).join(' ')}.`)
  const logged = runs.filter(r => r.logLines.length > 0 && r.peer !== 'lighttpd mod_cgi' && r.peer !== 'nginx static')
  for (const r of logged) for (const line of r.logLines.slice(0, 3)) out(`  [round ${r.round} ${r.workload} ${r.peer}] ${line.slice(0, 300)}`)
  if (setup.profRoot !== undefined) out(`\nCPU profiles: ${setup.profRoot} (summarise with: node bench/lib/profile-summary.ts DIR)`)
  if (options.json !== undefined) {
    writeFileSync(options.json, JSON.stringify({ facts, options: { ...options, only: [...options.only] }, workloads: plan, skipped, runs, verdicts: verdicts.filter(Boolean), targets, reference: REFERENCE }, null, 2) + '\n')
    out(`\nResults written to ${options.json}`)
  }
  const failed = runs.filter(r => r.failed !== undefined)
  for (const r of failed) out(`BENCH FAILED: round ${r.round} ${r.workload} ${r.peer}: ${r.failed ?? ''}`)
  return failed.length > 0 ? 1 : 0
}

await runBench('bench:peers', main, () => {
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true })
})
