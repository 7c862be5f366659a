// `warmgate start --processes N` against one process and a bare node:http server, one run each:
//
//   npm run bench:processes -- [--duration 10] [--warmup 2] [--connections 50]
//
// Workload: hello (apps/hello.ts), warm mode, one worker thread per gateway process (workers 1-1):
//   bare node:http          bench/lib/node-peer.ts --server bare: the same handler on one thread, no gateway
//   warmgate --processes 1  the CLI as users start it, one process (its main thread + 1 worker)
//   warmgate --processes 2  the CLI with a supervisor and two such processes on one port (SO_REUSEPORT)
// The same wrk settings for all (-t1, --connections, --duration after an uncounted --warmup), each server
// started fresh and stopped after its run, only 127.0.0.1. The anchor, measured on this machine
// for Platformatic Watt (not installable here: see README), is a ratio to bare node: Watt with 2 worker
// threads 1.1-1.5 x, with 1 worker 0.8-1.0 x; the target is --processes 2 >= Watt with 2 workers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { intOption, runBench } from './lib/args.ts'
import { startCliGateway } from './lib/cli-gateway.ts'
import { nodeBinary, startServerProcess } from './lib/gateway-process.ts'
import { runWrk, wrkVersion, type WrkReport, type WrkSettings } from './lib/wrk.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NODE_PEER = join(ROOT, 'bench/lib/node-peer.ts')
const HELLO = join(ROOT, 'apps/hello.ts')
const BODY = 'Hello, world!'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
  },
  strict: true,
})
const durationS = intOption('duration', values.duration, 1, 30)
const warmupS = intOption('warmup', values.warmup, 0, 10)
const wrk: WrkSettings = { threads: 1, connections: intOption('connections', values.connections, 1, 1000), timeoutS: 2 }
const dir = mkdtempSync(join(tmpdir(), 'wg-bench-processes-'))

interface Peer { name: string, start: () => Promise<{ url: string, stop: () => Promise<void> }> }

async function measure (peer: Peer): Promise<WrkReport> {
  const server = await peer.start()
  try {
    const res = await fetch(`${server.url}/hello`)
    const body = await res.text()
    if (res.status !== 200 || body !== BODY) throw new Error(`${peer.name}: GET /hello answered ${res.status} ${JSON.stringify(body)}`)
    if (warmupS > 0) await runWrk(wrk, warmupS, `${server.url}/hello`)
    return (await runWrk(wrk, durationS, `${server.url}/hello`)).report
  } finally {
    await server.stop()
  }
}

async function main (): Promise<number> {
  const version = wrkVersion()
  if (version === undefined) throw new Error('wrk is not on PATH (apt-get install wrk)')
  const config = join(dir, 'gateway.config.mjs')
  writeFileSync(config, `export default { apps: { hello: { route: '/hello', entry: ${JSON.stringify(HELLO)}, mode: 'warm', workers: { min: 1, max: 1 } } } }\n`)
  const cli = (processes: number): Peer => ({
    name: `warmgate --processes ${processes}`,
    start: async () => startCliGateway({ node: nodeBinary(), config, logLevel: 'warn', env: process.env, args: ['--processes', String(processes)] }, 60_000),
  })
  const peers: Peer[] = [
    { name: 'bare node:http', start: async () => startServerProcess(NODE_PEER, ['--server', 'bare', '--app', 'hello'], undefined) },
    cli(1),
    cli(2),
  ]
  process.stdout.write(`bench:processes — hello, warm (1 worker per process), wrk -t${wrk.threads} -c${wrk.connections} -d${durationS}s after ${warmupS}s warm-up; ${availableParallelism()} cores, load ${loadavg().map(n => n.toFixed(2)).join(' ')}; ${version}\n\n`)
  const results: Array<{ name: string, report: WrkReport }> = []
  for (const peer of peers) results.push({ name: peer.name, report: await measure(peer) })
  const bare = results[0].report.requests / (results[0].report.duration_us / 1e6)
  process.stdout.write(`${'server'.padEnd(24)}${'req/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}${'x bare'.padStart(8)}\n`)
  for (const { name, report } of results) {
    const rps = report.requests / (report.duration_us / 1e6)
    const errors = report.err_connect + report.err_read + report.err_write + report.err_status + report.err_timeout
    process.stdout.write(`${name.padEnd(24)}${rps.toFixed(0).padStart(10)}${(report.p50_us / 1000).toFixed(2).padStart(9)}${(report.p99_us / 1000).toFixed(2).padStart(9)}${String(errors).padStart(8)}${(rps / bare).toFixed(2).padStart(8)}\n`)
  }
  const two = results[2].report.requests / (results[2].report.duration_us / 1e6) / bare
  process.stdout.write(`\nanchor (this machine): Platformatic Watt 2 workers = 1.1-1.5 x bare node; --processes 2 = ${two.toFixed(2)} x bare node: ${two >= 1.5 ? 'at or above the whole range' : two >= 1.1 ? 'within the range' : 'below the range'}\n`)
  return 0
}

void runBench('bench:processes', main, () => rmSync(dir, { recursive: true, force: true }))
