import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { expect } from 'vitest'
import { type Cli, killCli, startCli } from '../helpers/cli.ts'
import { FIXTURES, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, type ProcInfo, procStat } from '../helpers/proc.ts'

// One real `warmgate start` per test file, attacked as a hostile client, script or handler would, and the
// invariants every group ends with: the same process answers, health is 200, no zombie and no stray
// process, and file descriptors and memory back near where they were before the attack.

export const HOSTILE = join(FIXTURES, 'hostile')
export const CGI_DIR = join(HOSTILE, 'cgi-bin')

/** The apps' small limits, so that every limit is reachable in well under a second or two. */
export const LIMITS = {
  /** Body limit of every app. */
  bodyLimit: 64 * 1024,
  /** Handler apps' timeout (warm, inline, cold, lambda). */
  timeoutMs: 1500,
  /** The cgi app's timeout. */
  cgiTimeoutMs: 2500,
  headersTimeoutMs: 2000,
  cgiConcurrency: 6,
} as const

/**
 * Tolerances of the resource invariant, after the attack has ended:
 * - fds: each warm thread owns a few (its libuv loop's epoll fd, an eventfd, the MessagePort's), the pool
 *   may be one thread above its minimum until `idleTimeout` (1 s) retires it, and a spawn helper replaced
 *   after a kill opens its pipes anew: 8 covers one extra thread and a helper's pipes, while a leak of one
 *   fd per request (every group sends dozens) still fails. Polled for up to 5 s (idle sockets, threads
 *   and killed process groups take up to the 2 s SIGKILL grace to go).
 * - RSS: V8 and glibc keep freed heap for reuse rather than returning it, so RSS never comes back to its
 *   start; a replaced warm thread and a 16 MiB Blob passed through leave a few tens of MiB. +96 MiB holds
 *   on a loaded 2-core machine (measured: +20 to +60 MiB after the largest group) and still catches
 *   buffering an unbounded CGI or handler stream, which grows by hundreds of MiB in a second.
 */
export const TOLERANCE = { fds: 8, rssMb: 96, settleMs: 5000, processesMs: 6000 } as const

export interface HostileGateway {
  cli: Cli
  /** The gateway's pid: `warmgate start` with one process runs no supervisor. */
  pid: number
  url: string
  /** Scratch directory: the config, the hits file, pid files written by the scripts. */
  dir: string
  /** Carried in the environment of the gateway and of every process it starts (cgi and cold `passEnv`). */
  tag: string
  baseline: { fds: number, rssMb: number }
}

function configText (dir: string): string {
  const odd = JSON.stringify(join(HOSTILE, 'odd.ts'))
  const env = `{ HITS: ${JSON.stringify(join(dir, 'hits'))} }`
  return `// Written by test/hostile/support.ts
export default {
  server: {
    host: '127.0.0.1', port: 0, bodyLimit: ${LIMITS.bodyLimit}, maxHeaderSize: '8kb',
    headersTimeout: ${LIMITS.headersTimeoutMs}, requestTimeout: 4000, keepAliveTimeout: '2s', shutdownTimeout: '1s',
  },
  defaults: { timeout: ${LIMITS.timeoutMs} },
  apps: {
    warm: { route: '/warm', entry: ${odd}, mode: 'warm', env: ${env}, workers: { min: 1, max: 2, idleTimeout: '1s' }, memoryMb: 64, concurrency: 16, maxQueue: 32 },
    inline: { route: '/inline', entry: ${odd}, mode: 'inline', env: ${env} },
    cold: { route: '/cold', entry: ${odd}, mode: 'cold', env: ${env}, passEnv: ['HOSTILE_TAG'], concurrency: 4, maxQueue: 16 },
    cgi: { route: '/cgi', cgi: ${JSON.stringify(CGI_DIR)}, timeout: ${LIMITS.cgiTimeoutMs}, passEnv: ['HOSTILE_TAG', 'HOSTILE_DIR'], concurrency: ${LIMITS.cgiConcurrency}, maxQueue: 16, queueTimeout: '3s' },
    lambda: { route: '/lambda', entry: ${JSON.stringify(join(HOSTILE, 'lambda.ts'))}, mode: 'warm', workers: { min: 1, max: 1 } },
  },
}
`
}

/** The environment the gateway gets: the tag and the scratch directory, passed on to cgi and cold children. */
function gatewayEnv (dir: string, tag: string): NodeJS.ProcessEnv {
  return { ...process.env, HOSTILE_TAG: tag, HOSTILE_DIR: dir }
}

/**
 * Writes the config into a fresh temp dir, starts `warmgate start` on it once, touches every app (so the
 * spawn helper, the cold runner bundle and the warm threads exist), and takes the resource baseline.
 * Stop it with `stopHostileGateway` in afterAll.
 */
export async function startHostileGateway (): Promise<HostileGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'wg-hostile-'))
  const tag = `wghostile-${randomUUID()}`
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n')
  writeFileSync(join(dir, 'gateway.config.js'), configText(dir))
  writeFileSync(join(dir, 'hits'), '')
  const cli = await startCli(['--config', 'gateway.config.js', '--port', '0', '--log-level', 'warn'], dir, 60_000, gatewayEnv(dir, tag))
  const pid = cli.child.pid as number
  const gw: HostileGateway = { cli, pid, url: cli.url, dir, tag, baseline: { fds: 0, rssMb: 0 } }
  for (const path of ['/warm/ok', '/inline/ok', '/cold/ok', '/cgi/ok.sh', '/lambda/ok']) {
    const { status } = await fetchText(gw, path)
    expect(status, `warm-up request ${path}`).toBe(200)
  }
  await settle()
  gw.baseline = { fds: fdCount(pid), rssMb: rssMb(pid) }
  return gw
}

export async function stopHostileGateway (gw: HostileGateway | undefined): Promise<void> {
  if (gw === undefined) return
  await killCli(gw.cli)
  // The spawn helper dies with the gateway (PR_SET_PDEATHSIG); make sure nothing tagged is left either way.
  for (const proc of taggedProcesses(gw)) {
    try { process.kill(proc.pid, 'SIGKILL') } catch { /* gone */ }
  }
  rmSync(gw.dir, { recursive: true, force: true })
}

/** One request on a fresh connection (no keep-alive sockets of ours inflate the gateway's fd count). */
export async function fetchText (gw: HostileGateway, path: string, init: { method?: string, body?: string | Buffer, headers?: Record<string, string>, ms?: number } = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  const ms = init.ms ?? 10_000
  return within(ms, `${init.method ?? 'GET'} ${path}`, (async () => {
    const res = await request(`${gw.url}${path}`, { method: init.method as 'GET', body: init.body, headers: init.headers, reset: true })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  })())
}

/** Lines of the hits file: `<mode> <path>` for every request a handler ran. */
export function hits (gw: HostileGateway): string[] {
  return readFileSync(join(gw.dir, 'hits'), 'utf8').split('\n').filter(line => line !== '')
}

/** The `code` of the gateway's log lines for one request id (set with `x-request-id`), polled briefly. */
export async function codesFor (gw: HostileGateway, reqId: string, ms = 3000): Promise<string[]> {
  const deadline = performance.now() + ms
  for (;;) {
    const codes: string[] = []
    for (const line of gw.cli.stdout().split('\n')) {
      if (!line.includes(reqId)) continue
      try {
        const entry = JSON.parse(line) as { reqId?: string, code?: unknown }
        if (entry.reqId === reqId && typeof entry.code === 'string') codes.push(entry.code)
      } catch { /* not JSON */ }
    }
    if (codes.length > 0 || performance.now() > deadline) return codes
    await sleep(50)
  }
}

export function fdCount (pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return -1
  }
}

export function rssMb (pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? -1 : Number(match[1]) / 1024
  } catch {
    return -1
  }
}

function environOf (pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
  } catch {
    return ''
  }
}

/** Live or zombie processes (other than this test process) whose environment carries the gateway's tag. */
export function taggedProcesses (gw: HostileGateway): ProcInfo[] {
  const needle = `HOSTILE_TAG=${gw.tag}\0`
  const found: ProcInfo[] = []
  for (const pid of allPids()) {
    if (pid === process.pid || !environOf(pid).includes(needle)) continue
    const info = procStat(pid)
    if (info !== undefined) found.push(info)
  }
  return found
}

/** Every process whose chain of parents reaches `root` (not `root` itself). */
export function descendantsOf (root: number): ProcInfo[] {
  const all = allPids().map(procStat).filter((info): info is ProcInfo => info !== undefined)
  const byPid = new Map(all.map(info => [info.pid, info]))
  return all.filter((info) => {
    for (let at = info.ppid, hops = 0; at > 1 && hops < 64; hops++) {
      if (at === root) return true
      at = byPid.get(at)?.ppid ?? 0
    }
    return false
  })
}

/** The spawn helper: the compiled one (`warmgate-spawn-*` in the cache) or the python3 fallback. */
export function isSpawnHelper (info: ProcInfo): boolean {
  return /spawn-helper|warmgate-spawn/.test(`${info.comm} ${cmdlineOf(info.pid) ?? ''}`)
}

/** The gateway's live spawn helpers (normally one). */
export function spawnHelpers (gw: HostileGateway): ProcInfo[] {
  return descendantsOf(gw.pid).filter(info => info.ppid === gw.pid && info.state !== 'Z' && isSpawnHelper(info))
}

/**
 * What should not be there: any descendant of the gateway but its spawn helper (warm workers are threads,
 * not processes; nothing else is started between requests), any zombie among them, and any tagged process
 * that is neither the gateway nor that helper (a script, a daemon that left the process tree).
 */
export function strayProcesses (gw: HostileGateway): Array<ProcInfo & { cmdline: string }> {
  const stray = new Map<number, ProcInfo>()
  for (const info of descendantsOf(gw.pid)) {
    if (info.state === 'Z' || !(info.ppid === gw.pid && isSpawnHelper(info))) stray.set(info.pid, info)
  }
  for (const info of taggedProcesses(gw)) {
    if (info.pid === gw.pid || (info.ppid === gw.pid && isSpawnHelper(info) && info.state !== 'Z')) continue
    stray.set(info.pid, info)
  }
  return [...stray.values()].map(info => ({ ...info, cmdline: cmdlineOf(info.pid) ?? '' }))
}

/** Polls `probe` every 50 ms until it holds or `ms` pass; returns whether it held. */
export async function poll (ms: number, probe: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = performance.now() + ms
  for (;;) {
    if (await probe()) return true
    if (performance.now() > deadline) return false
    await sleep(50)
  }
}

/** Waits for what a burst of activity leaves behind (a retiring thread, a killed group) to go. */
async function settle (): Promise<void> {
  await sleep(500)
}

/**
 * The invariants every group ends with (see TOLERANCE for the bounds and why). The same process answers
 * (an inline handler reports its pid), health is 200, no stray or zombie process, fds and RSS back near
 * the baseline.
 */
export async function expectInvariants (gw: HostileGateway, label: string): Promise<void> {
  expect(gw.cli.child.exitCode, `${label}: the gateway is still running`).toBeNull()
  expect(gw.cli.child.signalCode, `${label}: the gateway was not killed`).toBeNull()
  const same = await fetchText(gw, '/inline/ok')
  expect(same.status, `${label}: the inline app answers`).toBe(200)
  expect((JSON.parse(same.body) as { pid: number }).pid, `${label}: the same gateway process answers`).toBe(gw.pid)
  const health = await fetchText(gw, '/__warmgate/health')
  expect(health.status, `${label}: health`).toBe(200)

  let stray: Array<ProcInfo & { cmdline: string }> = []
  await poll(TOLERANCE.processesMs, () => (stray = strayProcesses(gw)).length === 0)
  expect(stray.map(info => `${info.pid} ${info.state} ppid=${info.ppid} ${info.cmdline || info.comm}`), `${label}: no zombie and no stray process of the gateway`).toEqual([])
  expect(spawnHelpers(gw).length, `${label}: at most one spawn helper`).toBeLessThanOrEqual(1)

  let fds = 0
  await poll(TOLERANCE.settleMs, () => Math.abs((fds = fdCount(gw.pid)) - gw.baseline.fds) <= TOLERANCE.fds)
  expect(fds, `${label}: open fds (baseline ${gw.baseline.fds}, ${readdirSummary(gw.pid)})`).toBeGreaterThanOrEqual(gw.baseline.fds - TOLERANCE.fds)
  expect(fds, `${label}: open fds (baseline ${gw.baseline.fds}, ${readdirSummary(gw.pid)})`).toBeLessThanOrEqual(gw.baseline.fds + TOLERANCE.fds)
  let rss = 0
  await poll(TOLERANCE.settleMs, () => (rss = rssMb(gw.pid)) <= gw.baseline.rssMb + TOLERANCE.rssMb)
  expect(rss, `${label}: RSS in MiB (baseline ${gw.baseline.rssMb.toFixed(1)})`).toBeLessThanOrEqual(gw.baseline.rssMb + TOLERANCE.rssMb)
  if (process.env.WG_HOSTILE_VERBOSE !== undefined) console.log(`[hostile] ${label}: fds ${fds} (baseline ${gw.baseline.fds}), RSS ${rss.toFixed(1)} MiB (baseline ${gw.baseline.rssMb.toFixed(1)})`)
}

/** What the gateway's fds point at, counted by kind, for a failure message. */
function readdirSummary (pid: number): string {
  const kinds = new Map<string, number>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '?'
      try { target = readlinkKind(`/proc/${pid}/fd/${fd}`) } catch { /* closed meanwhile */ }
      kinds.set(target, (kinds.get(target) ?? 0) + 1)
    }
  } catch { /* gone */ }
  return JSON.stringify(Object.fromEntries(kinds))
}

function readlinkKind (path: string): string {
  const match = /^(socket|pipe|anon_inode:\[?[a-z_]+)/.exec(readlinkSync(path))
  return match === null ? 'file' : match[1]
}

/** Which of `pids` still exist (alive, stopped or zombie). */
export function survivors (pids: readonly number[]): ProcInfo[] {
  return pids.map(procStat).filter((info): info is ProcInfo => info !== undefined)
}

/** Polls until none of `pids` exists, up to `ms`; returns those left (empty when all went in time). */
export async function awaitGone (pids: readonly number[], ms: number): Promise<ProcInfo[]> {
  let left: ProcInfo[] = []
  await poll(ms, () => (left = survivors(pids)).length === 0)
  return left
}

/** The pid(s) a fixture script wrote to `<dir>/<name>`, waiting up to `ms` for the file. */
export async function pidsFromFile (gw: HostileGateway, name: string, ms = 5000): Promise<number[]> {
  let text = ''
  const found = await poll(ms, () => {
    try { text = readFileSync(join(gw.dir, name), 'utf8').trim() } catch { text = '' }
    return text !== ''
  })
  if (!found) throw new Error(`timed out after ${ms} ms: a fixture writing its pid to ${name}`)
  return text.split(/\s+/).map(Number)
}

/**
 * Sends `bytes` on a raw connection and reads until the server closes, keeping only the first 2 KiB and
 * the last 64 bytes (an endless body is not held in memory); bounded by `ms`. For truncated bodies: undici
 * takes the close of a `Connection: close` response as its end, so only the bytes say whether a chunked
 * body was cut (no `0\r\n\r\n`) or falsely completed.
 */
export async function rawToClose (gw: HostileGateway, bytes: string, ms: number): Promise<{ head: string, tail: string, ms: number }> {
  const socket = connect({ port: Number(new URL(gw.url).port), host: '127.0.0.1' })
  const started = performance.now()
  let head = ''
  let tail = ''
  socket.on('data', (chunk: Buffer) => {
    const text = chunk.toString('latin1')
    if (head.length < 2048) head += text.slice(0, 2048 - head.length)
    tail = (tail + text).slice(-64)
  })
  socket.on('error', () => undefined)
  socket.write(bytes)
  try {
    await within(ms, `the server closing after ${JSON.stringify(bytes.slice(0, 40))}`, new Promise(resolve => socket.once('close', resolve)))
  } finally {
    socket.destroy()
  }
  return { head, tail, ms: performance.now() - started }
}

/** The sum of a counter's samples whose labels include all of `labels` (0 when none). */
export async function metric (gw: HostileGateway, name: string, labels: string): Promise<number> {
  const { body } = await fetchText(gw, '/__warmgate/metrics')
  return body.split('\n')
    .filter(text => text.startsWith(`${name}{`) && labels.split(',').every(label => text.includes(label)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
}
