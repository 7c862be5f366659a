// Load from a separate process: wrk when it is on PATH, else load-generator.ts (undici) in a Node child.
// Both report the same fields; the run is bounded (the child is killed at duration + 15 s) and abortable.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { siblingModule } from '../module-file.ts'
import { GatewayError } from '../errors.ts'
import { eachLine, stopChild, track } from './children.ts'
import { readProcessCpu } from './proc.ts'

const REPORT_LUA = fileURLToPath(new URL('./report.lua', import.meta.url))
const NODE_GENERATOR = siblingModule(import.meta.url, 'load-generator')
const REPORT_PREFIX = 'WRK_JSON '

export type LoadGenerator = 'wrk' | 'node'

export interface LoadSettings {
  connections: number
  durationMs: number
  /** A request slower than this counts as a timeout error. */
  timeoutMs: number
  /** What to send to the URL (whose path and query are requested); default: a plain GET. */
  request?: LoadRequest
}

/** One request, sent over and over: checked before (bench/select.ts); header names lower-case. */
export interface LoadRequest {
  method: string
  headers: Record<string, string>
  /** Content-Length is set from it; undefined: no body and no Content-Length. */
  body: Uint8Array | undefined
}

/** A Lua string literal of any bytes: printable ASCII as it is, every other byte (and the quote and backslash) as \ddd. */
function luaString (bytes: Uint8Array): string {
  let out = '"'
  for (const byte of bytes) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`
  }
  return out + '"'
}

/**
 * The wrk script of a request other than a plain GET: wrk.method, wrk.headers and wrk.body (wrk then adds
 * Content-Length), followed by report.lua's reporter. wrk builds the request once and sends it as it is.
 */
export function wrkScript (request: LoadRequest): string {
  const text = (value: string): string => luaString(Buffer.from(value, 'utf8'))
  const lines = ['-- Written by warmgate bench (src/bench/load.ts) for one run, then removed.', `wrk.method = ${text(request.method)}`]
  // wrk adds a Host header unless wrk.headers has "Host" spelled so: a lower-case one would be a second.
  for (const [name, value] of Object.entries(request.headers)) lines.push(`wrk.headers[${text(name === 'host' ? 'Host' : name)}] = ${text(value)}`)
  if (request.body !== undefined) lines.push(`wrk.body = ${luaString(request.body)}`)
  return lines.join('\n') + '\n' + readFileSync(REPORT_LUA, 'utf8')
}

/** A plain GET needs nothing but the URL. */
function isPlainGet (request: LoadRequest | undefined): boolean {
  return request === undefined || (request.method === 'GET' && Object.keys(request.headers).length === 0 && request.body === undefined)
}

/** What one load run measured (latencies in ms). */
export interface LoadReport {
  requests: number
  durationMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
  errors: { non2xx: number, timeouts: number, resets: number, other: number }
  /** CPU time the load generator used (sampled every 100 ms, so up to 100 ms short), seconds. */
  cpuSeconds: number
}

/** The line report.lua (wrk) and load-generator.ts print at the end, latencies in µs. */
interface RawReport {
  duration_us: number, requests: number, err_connect: number, err_read: number, err_write: number
  err_status: number, err_timeout: number, lat_max_us: number, p50_us: number, p90_us: number, p99_us: number
}

let wrkFound: boolean | undefined

/** wrk if it runs here, else the Node generator. */
export function pickLoadGenerator (): LoadGenerator {
  wrkFound ??= spawnSync('wrk', ['--version'], { timeout: 5000 }).error === undefined
  return wrkFound ? 'wrk' : 'node'
}

function commandFor (generator: LoadGenerator, url: string, s: LoadSettings, script: string): [string, string[]] {
  const seconds = Math.max(1, Math.round(s.durationMs / 1000))
  if (generator === 'wrk') {
    // One wrk thread: the machines this runs on are small, and the gateway needs the other cores.
    return ['wrk', ['-t1', `-c${s.connections}`, `-d${seconds}s`, '--timeout', `${Math.ceil(s.timeoutMs / 1000)}s`, '-s', script, url]]
  }
  // '-': the request comes as JSON on stdin (a body can be larger than a command line may be).
  return [process.execPath, [NODE_GENERATOR, url, String(s.connections), String(s.durationMs), String(s.timeoutMs), ...(isPlainGet(s.request) ? [] : ['-'])]]
}

/** Runs one load against `url` to completion and returns what it measured. */
export async function runLoad (generator: LoadGenerator, url: string, settings: LoadSettings, signal?: AbortSignal): Promise<LoadReport> {
  const request = isPlainGet(settings.request) ? undefined : settings.request as LoadRequest
  let scriptDir: string | undefined
  let script = REPORT_LUA
  if (generator === 'wrk' && request !== undefined) {
    scriptDir = mkdtempSync(join(tmpdir(), 'warmgate-bench-'))
    script = join(scriptDir, 'request.lua')
    writeFileSync(script, wrkScript(request))
  }
  try {
    return await runCommand(generator, commandFor(generator, url, settings, script), settings, request, signal)
  } finally {
    if (scriptDir !== undefined) rmSync(scriptDir, { recursive: true, force: true })
  }
}

async function runCommand (generator: LoadGenerator, [command, args]: [string, string[]], settings: LoadSettings, request: LoadRequest | undefined, signal: AbortSignal | undefined): Promise<LoadReport> {
  const toStdin = generator === 'node' && request !== undefined
  const child = track(spawn(command, args, { stdio: [toStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] }))
  if (toStdin && request !== undefined) {
    // A child that died at once closes its stdin: that shows as its exit code below, not as EPIPE here.
    child.stdin?.on('error', () => {})
    child.stdin?.end(JSON.stringify({ method: request.method, headers: request.headers, body: request.body === undefined ? null : Buffer.from(request.body).toString('base64') }))
  }
  let report: RawReport | undefined
  let output = ''
  eachLine(child.stdout, (line) => {
    if (line.startsWith(REPORT_PREFIX)) report = JSON.parse(line.slice(REPORT_PREFIX.length)) as RawReport
    else output = (output + line + '\n').slice(-2000)
  })
  eachLine(child.stderr, (line) => { output = (output + line + '\n').slice(-2000) })
  // Its last reading before it exits: what the load itself cost, to tell it apart from other load.
  let cpuSeconds = Number.NaN
  const pid = child.pid as number
  const cpuTimer = setInterval(() => { cpuSeconds = readProcessCpu(pid) ?? cpuSeconds }, 100)
  const stop = (): void => { void stopChild(child, 1000) }
  const killTimer = setTimeout(stop, settings.durationMs + 15_000)
  signal?.addEventListener('abort', stop, { once: true })
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    signal?.throwIfAborted()
    if (code !== 0 || report === undefined) {
      throw new GatewayError('WG_ERR_BENCH_FAILED', `bench: ${generator} exited with code ${code} without a report:\n${output.trim()}`)
    }
  } finally {
    clearTimeout(killTimer)
    clearInterval(cpuTimer)
    signal?.removeEventListener('abort', stop)
  }
  const r = report
  return {
    requests: r.requests,
    durationMs: r.duration_us / 1000,
    p50Ms: r.p50_us / 1000,
    p90Ms: r.p90_us / 1000,
    p99Ms: r.p99_us / 1000,
    maxMs: r.lat_max_us / 1000,
    // wrk: a read or write error is almost always a reset connection; a refused connect is "other".
    errors: { non2xx: r.err_status, timeouts: r.err_timeout, resets: r.err_read + r.err_write, other: r.err_connect },
    cpuSeconds,
  }
}
