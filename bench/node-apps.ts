// Node-style apps and WebSockets, against their own peers, in one interleaved run.
//
//   npm run bench:node -- [--rounds 3] [--duration 4] [--warmup 1] [--only hello,cpu,ws] [--json FILE]
//
// HTTP workloads, all on one Express app (bench/apps/express.ts), the same module for every peer:
//   hello  GET /express/hello ('Hello, world!'), wrk -t1 -c50
//   cpu    GET /express/cpu?n=7000 (~1 ms of PBKDF2 a request), wrk -t1 -c8
// Peers: warmgate warm 2 (2 worker threads), warmgate inline, express itself (createServer(app).listen: one
// process, one thread, as Express's docs run it), watt 2 workers (Platformatic Watt running the same app,
// 2 worker threads). Targets: warm 2 >= 1.3x express itself on cpu, >= 0.8x on hello.
// WebSocket workload (ws): echo of a 32-byte text message, 50 clients in a closed loop (bench/lib/ws-load.ts,
// a process of its own). Peers: warmgate warm 2 and inline on bench/apps/ws-echo.ts, and a bare `ws` server.
// Each round runs every workload's peers once, the order rotating by one per round; each run is a fresh
// server process: start, check, warm-up, measured run, stop. CPU per request (or message) and peak RSS are
// of the server's whole process tree. Ratios are within a round; the table shows medians over rounds.
// Only 127.0.0.1; every child is bounded and stopped by its pid.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { eachLine, stopChild, track } from './lib/children.ts'
import { nodeBinary, startGateway, startServerProcess } from './lib/gateway-process.ts'
import { ensurePeerPackages, PEER_PACKAGES } from './lib/peer-packages.ts'
import { readTreeCpu, sampleTreeRss } from './lib/proc-tree.ts'
import { freePort, startWatt, writeWattProject } from './lib/watt.ts'
import { runWrk, type WrkSettings } from './lib/wrk.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const EXPRESS_PEER = join(ROOT, 'bench/lib/express-peer.ts')
const WS_PEER = join(ROOT, 'bench/lib/ws-peer.ts')
const WS_LOAD = join(ROOT, 'bench/lib/ws-load.ts')
const EXPRESS_APP = pathToFileURL(join(ROOT, 'bench/apps/express.ts')).href

type HttpPeer = 'warmgate warm 2' | 'warmgate inline' | 'express itself' | 'watt 2 workers'
type WsPeer = 'warmgate warm 2' | 'warmgate inline' | 'bare ws'
interface Workload { name: 'hello' | 'cpu' | 'ws', path: string, expect: string, wrk?: WrkSettings, peers: readonly string[] }

const WORKLOADS: readonly Workload[] = [
  { name: 'hello', path: '/express/hello', expect: 'Hello, world!', wrk: { threads: 1, connections: 50, timeoutS: 2 }, peers: ['warmgate warm 2', 'warmgate inline', 'express itself', 'watt 2 workers'] },
  { name: 'cpu', path: '/express/cpu?n=7000', expect: '7000 rounds', wrk: { threads: 1, connections: 8, timeoutS: 2 }, peers: ['warmgate warm 2', 'warmgate inline', 'express itself', 'watt 2 workers'] },
  { name: 'ws', path: '/ws-echo', expect: 'websocket echo', peers: ['warmgate warm 2', 'warmgate inline', 'bare ws'] },
]
const WS_CONNECTIONS = 50

interface Options { rounds: number, durationS: number, warmupS: number, only: Set<string>, json?: string }
interface Server { url: string, pid: number, stop: () => Promise<void> }
interface Run { round: number, workload: string, peer: string, rate: number, p50Ms: number, p99Ms: number, cpuUs: number, rssMb: number, errors: number, failed?: string }

function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '4' },
      warmup: { type: 'string', default: '1' },
      only: { type: 'string', default: WORKLOADS.map(w => w.name).join(',') },
      json: { type: 'string' },
    },
    strict: true,
  })
  const only = new Set(values.only.split(',').map(s => s.trim()).filter(Boolean))
  for (const name of only) if (!WORKLOADS.some(w => w.name === name)) throw new BenchFailure(`--only: unknown workload '${name}' (expected ${WORKLOADS.map(w => w.name).join(', ')})`)
  return { rounds: intOption('rounds', values.rounds, 1, 20), durationS: intOption('duration', values.duration, 1, 60), warmupS: intOption('warmup', values.warmup, 0, 10), only, json: values.json }
}

let wattDir: string | undefined

async function startPeer (peer: string, workload: Workload): Promise<Server> {
  const app = workload.name === 'ws' ? 'ws-echo' : 'express'
  switch (peer) {
    case 'warmgate warm 2':
    case 'warmgate inline': {
      const warm = peer === 'warmgate warm 2'
      const gateway = await startGateway({ app, mode: warm ? 'warm' : 'inline', workers: warm ? { min: 2, max: 2 } : undefined, logLevel: 'warn' })
      return { url: gateway.url, pid: gateway.pid, stop: gateway.stop }
    }
    case 'express itself':
    case 'bare ws': {
      const child = await startServerProcess(peer === 'bare ws' ? WS_PEER : EXPRESS_PEER, [], undefined)
      return { url: child.url, pid: child.pid, stop: child.stop }
    }
    case 'watt 2 workers': {
      const packages = ensurePeerPackages(line => process.stdout.write(`${line}\n`))
      wattDir ??= mkdtempSync(join(tmpdir(), 'warmgate-bench-node-'))
      const dir = join(wattDir, `watt-${Date.now()}`)
      const port = await freePort()
      // What a Watt user writes for an existing Express app: create() returns its server.
      const entry = `import { createServer } from 'node:http'\nimport app from ${JSON.stringify(EXPRESS_APP)}\n\nexport function create () {\n  return createServer(app)\n}\n`
      writeWattProject(dir, { port, workers: 2, wattVersion: PEER_PACKAGES.wattpm, nodeVersion: PEER_PACKAGES['@platformatic/node'], entry })
      return startWatt({ wattpm: packages.wattpm, dir, port, readyPath: '/express/hello' })
    }
  }
  throw new Error(`unknown peer ${peer}`)
}

async function check (url: string, expect: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const body = await res.text()
  if (res.status !== 200 || !body.includes(expect)) throw new Error(`check of ${url} failed: ${res.status} ${JSON.stringify(body.slice(0, 80))}`)
}

/** ws-load.ts against `url` for `durationS`, in its own process; its JSON line. */
async function runWsLoad (url: string, durationS: number, warmupS: number): Promise<{ messages: number, seconds: number, p50Ms: number, p99Ms: number, errors: number }> {
  const child = track(spawn(nodeBinary(), [WS_LOAD, '--url', url, '--connections', String(WS_CONNECTIONS), '--duration', String(durationS), '--warmup', String(warmupS)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  let line = ''
  eachLine(child.stdout, (text) => { if (text.startsWith('{')) line = text })
  const timer = setTimeout(() => { void stopChild(child, 1000) }, (durationS + warmupS + 20) * 1000)
  await new Promise((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  if (line === '') throw new Error(`ws-load printed nothing (exit ${child.exitCode})`)
  return JSON.parse(line)
}

async function runOne (workload: Workload, peer: string, round: number, options: Options): Promise<Run> {
  const base: Run = { round, workload: workload.name, peer, rate: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuUs: Number.NaN, rssMb: Number.NaN, errors: 0 }
  let server: Server
  try {
    server = await startPeer(peer, workload)
  } catch (error) {
    return { ...base, failed: `did not start: ${(error as Error).message.split('\n')[0]}` }
  }
  const rss = sampleTreeRss(server.pid, 250)
  try {
    await check(server.url + workload.path, workload.expect)
    if (workload.name === 'ws') {
      const url = server.url.replace(/^http/, 'ws') + workload.path
      // The warm-up is the load process's own (connections open, then measured from warm-up's end).
      const cpu0 = readTreeCpu(server.pid)
      const load = await runWsLoad(url, options.durationS, options.warmupS)
      const cpu1 = readTreeCpu(server.pid)
      // CPU over the whole load run, warm-up included: per message of the whole run, estimated from the measured rate.
      const total = load.messages * (options.durationS + options.warmupS) / options.durationS
      return { ...base, rate: load.messages / load.seconds, p50Ms: load.p50Ms, p99Ms: load.p99Ms, cpuUs: cpu0 === undefined || cpu1 === undefined ? Number.NaN : (cpu1 - cpu0) / total * 1e6, rssMb: rss.stop() / 1048576, errors: load.errors }
    }
    const wrk = workload.wrk as WrkSettings
    if (options.warmupS > 0) await runWrk(wrk, options.warmupS, server.url + workload.path)
    const cpu0 = readTreeCpu(server.pid)
    const { report } = await runWrk(wrk, options.durationS, server.url + workload.path)
    const cpu1 = readTreeCpu(server.pid)
    const errors = report.err_connect + report.err_read + report.err_write + report.err_status + report.err_timeout
    return {
      ...base,
      rate: report.requests / (report.duration_us / 1e6),
      p50Ms: report.p50_us / 1000,
      p99Ms: report.p99_us / 1000,
      cpuUs: cpu0 === undefined || cpu1 === undefined ? Number.NaN : (cpu1 - cpu0) / report.requests * 1e6,
      rssMb: rss.stop() / 1048576,
      errors,
    }
  } catch (error) {
    rss.stop()
    return { ...base, failed: (error as Error).message.split('\n')[0] }
  } finally {
    await server.stop()
  }
}

const median = (values: number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : 'n/a'

async function main (): Promise<number> {
  const options = parseOptions()
  const out = (line = ''): void => { process.stdout.write(`${line}\n`) }
  const workloads = WORKLOADS.filter(w => options.only.has(w.name))
  out(`bench:node: ${options.rounds} rounds x ${options.durationS} s (+${options.warmupS} s warm-up), load average ${loadavg().map(n => n.toFixed(2)).join(' ')}`)
  const runs: Run[] = []
  for (let round = 1; round <= options.rounds; round++) {
    for (const workload of workloads) {
      const peers = [...workload.peers.slice((round - 1) % workload.peers.length), ...workload.peers.slice(0, (round - 1) % workload.peers.length)]
      for (const peer of peers) {
        const run = await runOne(workload, peer, round, options)
        runs.push(run)
        out(`  round ${round} ${workload.name} ${peer}: ${run.failed ?? `${fmt(run.rate)}/s p99 ${fmt(run.p99Ms, 2)} ms, ${fmt(run.cpuUs, 1)} µs CPU each, ${fmt(run.rssMb)} MB${run.errors > 0 ? `, ${run.errors} errors` : ''}`}`)
      }
    }
  }
  const reference = (workload: Workload): string => workload.name === 'ws' ? 'bare ws' : 'express itself'
  const ratio = (workload: Workload, peer: string, pick: (r: Run) => number): number => median(Array.from({ length: options.rounds }, (_, i) => {
    const mine = runs.find(r => r.round === i + 1 && r.workload === workload.name && r.peer === peer)
    const ref = runs.find(r => r.round === i + 1 && r.workload === workload.name && r.peer === reference(workload))
    return mine === undefined || ref === undefined ? Number.NaN : pick(mine) / pick(ref)
  }))
  for (const workload of workloads) {
    out()
    out(`${workload.name} (${workload.name === 'ws' ? `${WS_CONNECTIONS} clients, 32-byte echo` : `wrk -t${workload.wrk?.threads} -c${workload.wrk?.connections}`}), medians over ${options.rounds} rounds; ratios to ${reference(workload)}, per round:`)
    out(`| peer | ${workload.name === 'ws' ? 'messages/s' : 'req/s'} | p50 ms | p99 ms | CPU µs each | peak RSS MB | rate ratio | p99 ratio |`)
    out('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for (const peer of workload.peers) {
      const mine = runs.filter(r => r.workload === workload.name && r.peer === peer && r.failed === undefined)
      const failed = runs.find(r => r.workload === workload.name && r.peer === peer && r.failed !== undefined)
      if (mine.length === 0) {
        out(`| ${peer} | failed: ${failed?.failed ?? 'no run'} | | | | | | |`)
        continue
      }
      out(`| ${peer} | ${fmt(median(mine.map(r => r.rate)))} | ${fmt(median(mine.map(r => r.p50Ms)), 2)} | ${fmt(median(mine.map(r => r.p99Ms)), 2)} | ${fmt(median(mine.map(r => r.cpuUs)), 1)} | ${fmt(median(mine.map(r => r.rssMb)))} | ${fmt(ratio(workload, peer, r => r.rate), 2)} | ${fmt(ratio(workload, peer, r => r.p99Ms), 2)} |`)
    }
  }
  out()
  const targets: Array<[string, string, number, number]> = []
  if (options.only.has('cpu')) targets.push(['Express warm 2 >= 1.3x the app listening itself on cpu (~1 ms)', 'cpu', 1.3, ratio(WORKLOADS[1], 'warmgate warm 2', r => r.rate)])
  if (options.only.has('hello')) targets.push(['Express warm 2 >= 0.8x the app listening itself on hello', 'hello', 0.8, ratio(WORKLOADS[0], 'warmgate warm 2', r => r.rate)])
  for (const [name, , want, got] of targets) out(`target: ${name}: ${fmt(got, 2)} -> ${got >= want ? 'PASS' : 'MISS'}`)
  if (options.json !== undefined) writeFileSync(options.json, JSON.stringify({ options: { ...options, only: [...options.only] }, runs }, null, 2) + '\n')
  return runs.some(r => r.failed !== undefined) ? 1 : 0
}

await runBench('bench:node', main, () => { if (wattDir !== undefined) rmSync(wattDir, { recursive: true, force: true }) })
