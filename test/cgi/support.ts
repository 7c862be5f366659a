import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent } from 'undici'
import { afterAll } from 'vitest'
import type { AppConfig, GatewayConfig } from '../../src/index.ts'
import { APPS, FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { type Reply, send, type SendOptions } from '../runtime/support.ts'
import { allPids, type ProcInfo, procStat } from '../helpers/proc.ts'

// Shared by the cgi app suites (cgi-app, traversal, lifecycle). vitest runs each test file in its own
// forked process, so everything set up here (process.env, scratch files, the tag) is per file.

/** The fixture directory served as `/cgi-bin`. */
export const CGI_BIN = `${FIXTURES}cgi-bin`
export const CGI_BIN_REAL = realpathSync(CGI_BIN)
/** The example scripts users start from. */
export const EXAMPLES = `${APPS}cgi-bin`

function runs (command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 5000 })
  return result.status === 0
}

// Probed before the environment below is set, so no probe process carries the tag.
const HAVE = {
  perl: runs('perl', ['-e', '1']),
  python3: runs('python3', ['-c', 'pass']),
  bash: existsSync('/bin/bash') && runs('/bin/bash', ['-c', ':']),
}

/** Whether an interpreter the fixtures need is here; says so (never a silent pass) when it is not. */
export function available (name: keyof typeof HAVE): boolean {
  if (!HAVE[name]) console.warn(`[cgi tests] skipping the ${name} cases: ${name} is not installed on this machine`)
  return HAVE[name]
}

const scratch = mkdtempSync(join(tmpdir(), 'wg-cgi-'))
// A file-level hook (this module is imported while the test file is collected).
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** Scratch directory of this test file (removed after its last test). */
export const SCRATCH = scratch
/** Every fixture appends `<script> <pid>` here first thing: proof that a script ran, or did not. */
export const MARK_FILE = join(scratch, 'mark')
/** Long-running fixtures append their pid and their children's pids here. */
export const PIDS_FILE = join(scratch, 'pids')
/** Unique per test file: a live process whose environ holds it is one of ours. */
export const TAG = `wgcgi-${process.pid}-${randomUUID()}`

// Set before any gateway exists, as the spec asks: the secret must not reach a script, TZ must.
process.env.WG_TEST_SECRET = 's3cret'
process.env.TZ = 'Etc/GMT-3'
process.env.WG_CGI_MARK = MARK_FILE
process.env.WG_CGI_PIDS = PIDS_FILE
process.env.WG_CGI_TAG = TAG

export const PASS_ENV = ['TZ', 'WG_CGI_MARK', 'WG_CGI_PIDS', 'WG_CGI_TAG']

/** The app of the spec's example config, with the fixture directory and the test's passEnv names. */
export function legacyApp (overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    route: '/cgi-bin',
    cgi: CGI_BIN,
    timeout: '10s',
    passEnv: PASS_ENV,
    concurrency: 4,
    maxQueue: 8,
    passAuthorization: false,
    bodyLimit: '16mb',
    ...overrides,
  }
}

export interface CgiHarness extends Started {
  agent: Agent
  port: number
  send (path: string, options?: SendOptions): Promise<Reply>
}

/**
 * Starts a gateway with the `legacy` app at `/cgi-bin` (plus `extra` apps) on an ephemeral loopback
 * port, with its own undici Agent; both are closed when the test ends.
 */
export async function openCgi (defer: (fn: () => Promise<void>) => void, extra: Record<string, AppConfig> = {}, legacy: Partial<AppConfig> = {}): Promise<CgiHarness> {
  const config: GatewayConfig = { apps: { legacy: legacyApp(legacy), ...extra } }
  const started = await within(15_000, 'starting a gateway with a cgi app', startGateway(config))
  defer(async () => { await within(15_000, 'closing the gateway', started.gateway.close()) })
  const agent = new Agent()
  defer(async () => { await within(5000, 'closing the undici agent', agent.close()) })
  return {
    ...started,
    agent,
    port: Number(new URL(started.url).port),
    send: (path, options) => send(agent, started.url, path, options),
  }
}

/** The environment `env.sh` sends back: its `/proc/self/environ`, NUL-separated. */
export function parseEnviron (body: Buffer): Record<string, string> {
  const env: Record<string, string> = {}
  for (const entry of body.toString('utf8').split('\0')) {
    if (entry === '') continue
    const eq = entry.indexOf('=')
    env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return env
}

/** `key=value` lines (Go's test.cgi answer format). */
export function parseLines (text: string): Record<string, string> {
  const map: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) map[line.slice(0, eq)] = line.slice(eq + 1).replace(/\r$/, '')
  }
  return map
}

function lines (file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(line => line !== '')
  } catch {
    return []
  }
}

/** Lines of the mark file: one per script run. */
export function marks (): string[] {
  return lines(MARK_FILE)
}

/** Pids the fixtures recorded (their own and their children's). */
export function recordedPids (): number[] {
  return lines(PIDS_FILE).map(Number)
}

export { codesOf } from '../helpers/gateway.ts'
export { type ProcInfo, procStat } from '../helpers/proc.ts'

/** Live processes whose environment holds this file's tag (the gateway passes it via passEnv). */
export function taggedProcesses (): ProcInfo[] {
  const needle = `WG_CGI_TAG=${TAG}\0`
  const found: ProcInfo[] = []
  for (const pid of allPids()) {
    if (pid === process.pid) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1')
    } catch {
      continue
    }
    if (!environ.includes(needle)) continue
    const info = procStat(pid)
    if (info !== undefined) found.push(info)
  }
  return found
}

/** Zombies whose parent is this process (the gateway lives here): children it has not reaped. */
export function unreapedChildren (): ProcInfo[] {
  const found: ProcInfo[] = []
  for (const pid of allPids()) {
    const info = procStat(pid)
    if (info !== undefined && info.state === 'Z' && info.ppid === process.pid) found.push(info)
  }
  return found
}

/** Which of `pids` still exist (alive or zombie). */
export function present (pids: readonly number[]): ProcInfo[] {
  return pids.map(procStat).filter((info): info is ProcInfo => info !== undefined)
}

/**
 * Polls `probe` until it returns `true`, bounded by `ms`; on timeout the error names `label` and what
 * `describe` says about the last state (so a failure says which process was left, not just "timed out").
 */
export async function until (ms: number, label: string, probe: () => boolean | Promise<boolean>, describe: () => unknown = () => ''): Promise<number> {
  const started = performance.now()
  for (;;) {
    if (await probe()) return performance.now() - started
    if (performance.now() - started > ms) throw new Error(`timed out after ${ms} ms: ${label}; last state: ${JSON.stringify(describe())}`)
    await sleep(25)
  }
}

/** A status line, headers (lower-case names, repeats kept) and body of a raw HTTP/1.x response. */
export interface ParsedRaw { status: number, reason: string, headers: Array<[string, string]>, body: string }

/** Splits one raw response (as `rawExchange` returns it); de-chunks a chunked body. */
export function parseRaw (text: string): ParsedRaw {
  const end = text.indexOf('\r\n\r\n')
  const head = text.slice(0, end).split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head[0])
  if (match === null) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`)
  const headers = head.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
  })
  let body = text.slice(end + 4)
  if (headers.some(([name, value]) => name === 'transfer-encoding' && value === 'chunked')) {
    let out = ''
    let at = 0
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at)
      const size = Number.parseInt(body.slice(at, lineEnd), 16)
      if (!(size > 0)) break
      out += body.slice(lineEnd + 2, lineEnd + 2 + size)
      at = lineEnd + 2 + size + 2
    }
    body = out
  }
  return { status: Number(match[1]), reason: match[2], headers, body }
}
