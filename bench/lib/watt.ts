// Platformatic Watt as a peer of bench/peers.ts: `wattpm start` on a generated minimal project, one
// @platformatic/node application (the entrypoint) whose entry exports create() returning a node:http server
// that answers the workloads' bodies itself (what a user of Watt would write), with N workers (worker threads
// of the one wattpm process, each listening on the port with SO_REUSEPORT).
// Settings that are not Watt's defaults, and why: logger level warn (no line per request or per start-up;
// access logs are off for every peer), metrics off (by default a Prometheus server on 0.0.0.0:9090: the
// bench listens on 127.0.0.1 only), management API off (a unix socket and log files under the OS temp dir).
// Both make Watt lighter, never heavier.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { eachLine, stopChild, track } from './children.ts'
import { nodeBinary } from './gateway-process.ts'

export interface WattServer { url: string, pid: number, logLines: () => string[], stop: () => Promise<void> }

/**
 * The application: hello answers 'Hello, world!' (the handler's body and content-type), cpu the same
 * PBKDF2 with ?n= rounds and the same text as apps/cpu.ts, without a web Request or Response.
 */
const APP_ENTRY = `import { createServer } from 'node:http'
import { pbkdf2Sync } from 'node:crypto'

const HELLO = 'Hello, world!'

export function create () {
  return createServer((req, res) => {
    const url = req.url ?? '/'
    if (url === '/hello' || url.startsWith('/hello?')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(HELLO) })
      res.end(HELLO)
    } else if (url === '/cpu' || url.startsWith('/cpu?')) {
      const n = Number(new URL(url, 'http://x').searchParams.get('n') ?? 14000)
      const rounds = Number.isSafeInteger(n) && n >= 1 && n <= 10000000 ? n : 14000
      const key = pbkdf2Sync('correct horse battery staple', 'warmgate', rounds, 16, 'sha256')
      const body = rounds + ' rounds: ' + key.toString('hex') + '\\n'
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found\\n')
    }
  })
}
`

/** A port free on 127.0.0.1 right now (Watt needs a number: with port 0 each worker would get its own). */
export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen({ host: '127.0.0.1', port: 0 }, resolve))
  const address = probe.address()
  await new Promise(resolve => probe.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no TCP port from the probe')
  return address.port
}

/** Writes the Watt project (watt.json + the application) into `dir`. */
/** `entry`: the application's index.js (default: the hello/cpu server above; bench/node-apps.ts passes its Express app's). */
export function writeWattProject (dir: string, options: { port: number, workers: number, wattVersion: string, nodeVersion: string, entry?: string }): void {
  mkdirSync(join(dir, 'web/hello'), { recursive: true })
  writeFileSync(join(dir, 'watt.json'), JSON.stringify({
    $schema: `https://schemas.platformatic.dev/wattpm/${options.wattVersion}.json`,
    server: { hostname: '127.0.0.1', port: options.port },
    logger: { level: 'warn' },
    workers: options.workers,
    metrics: false,
    managementApi: false,
    entrypoint: 'hello',
    applications: [{ id: 'hello', path: './web/hello' }],
  }, null, 2) + '\n')
  writeFileSync(join(dir, 'web/hello/watt.json'), JSON.stringify({ $schema: `https://schemas.platformatic.dev/@platformatic/node/${options.nodeVersion}.json` }, null, 2) + '\n')
  writeFileSync(join(dir, 'web/hello/package.json'), JSON.stringify({ name: 'hello', private: true, type: 'module', main: 'index.js' }, null, 2) + '\n')
  writeFileSync(join(dir, 'web/hello/index.js'), options.entry ?? APP_ENTRY)
}

/**
 * `wattpm start DIR` with the pinned node; ready once GET /hello answers 200 (Watt logs nothing at warn),
 * at most `timeoutMs`. Stopped by its pid: SIGTERM, SIGKILL after 10 s.
 */
export async function startWatt (options: { wattpm: string, dir: string, port: number, readyPath?: string }, timeoutMs = 60_000): Promise<WattServer> {
  const child = track(spawn(nodeBinary(), [options.wattpm, 'start', options.dir], { cwd: options.dir, stdio: ['ignore', 'pipe', 'pipe'] }))
  const lines: string[] = []
  const keep = (line: string): void => { if (line.trim() !== '' && lines.length < 1000) lines.push(line) }
  eachLine(child.stdout, keep)
  eachLine(child.stderr, line => keep(`stderr: ${line}`))
  const url = `http://127.0.0.1:${options.port}`
  const deadline = performance.now() + timeoutMs
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wattpm exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`)
      if (performance.now() > deadline) throw new Error(`wattpm did not answer on ${url} within ${timeoutMs} ms`)
      try {
        const res = await fetch(`${url}${options.readyPath ?? '/hello'}`, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        if (res.status === 200) break
      } catch {}
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  } catch (error) {
    await stopChild(child, 2000)
    throw new Error(`${(error as Error).message}${lines.length === 0 ? '' : `\n--- wattpm output ---\n${lines.slice(-20).join('\n')}`}`)
  }
  return { url, pid: child.pid as number, logLines: () => lines, stop: async () => { await stopChild(child, 10_000) } }
}
