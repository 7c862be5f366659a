// lighttpd with mod_cgi as the CGI reference for bench/cgi.ts: our own server process (never the system
// service), a generated config, 127.0.0.1 on a free port, foreground (-D), stopped by its pid.
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { stopChild, track } from './children.ts'

/** Where Debian's package puts the binary and its modules; `lighttpd` on PATH is tried first. */
const BINARY_CANDIDATES = ['/usr/sbin/lighttpd', '/usr/local/sbin/lighttpd']
const MODULE_DIRS = ['/usr/lib/lighttpd', '/usr/local/lib/lighttpd', '/usr/lib64/lighttpd']
const INSTALL_TIMEOUT_MS = 300_000

export interface Lighttpd {
  binary: string
  version: string
  /** Set when the bench installed it in this run. */
  installed: boolean
}

export interface LighttpdServer {
  url: string
  pid: number
  /** lighttpd's error log (start-up line, CGI failures, and whatever the scripts wrote to stderr). */
  errorLog (): string[]
  stop (): Promise<void>
}

export class LighttpdMissing extends Error {}

function findBinary (): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v lighttpd'], { encoding: 'utf8', timeout: 5000 })
  const onPath = which.status === 0 ? which.stdout.trim() : ''
  for (const candidate of [onPath, ...BINARY_CANDIDATES]) {
    if (candidate === '') continue
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

function hasModCgi (): boolean {
  return MODULE_DIRS.some(dir => existsSync(join(dir, 'mod_cgi.so')))
}

function versionOf (binary: string): string {
  const result = spawnSync(binary, ['-v'], { encoding: 'utf8', timeout: 5000 })
  return (result.stdout + result.stderr).split('\n')[0].trim()
}

/**
 * lighttpd and its mod_cgi, installed with apt-get when missing and we run as root; otherwise a
 * LighttpdMissing error that says what to run. Installing may start Debian's own lighttpd service: it
 * is not used (ours listens on its own loopback port with its own config).
 */
export function ensureLighttpd (log: (line: string) => void): Lighttpd {
  let binary = findBinary()
  if (binary !== undefined && hasModCgi()) return { binary, version: versionOf(binary), installed: false }
  const what = binary === undefined ? 'lighttpd is not installed' : 'lighttpd is installed but mod_cgi.so was not found'
  if (process.getuid?.() !== 0) {
    throw new LighttpdMissing(`${what}. Install it (as root): apt-get install -y lighttpd — then run the bench again.`)
  }
  log(`${what}: running apt-get install -y lighttpd (at most ${INSTALL_TIMEOUT_MS / 1000} s)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'lighttpd'], { stdio: 'inherit', env, timeout: INSTALL_TIMEOUT_MS }).status === 0
  // A fresh container often has no package lists yet: update once and retry.
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env, timeout: INSTALL_TIMEOUT_MS })
    if (!install()) throw new LighttpdMissing(`${what} and apt-get install -y lighttpd failed (see above)`)
  }
  binary = findBinary()
  if (binary === undefined || !hasModCgi()) throw new LighttpdMissing(`apt-get installed lighttpd, but no lighttpd binary with mod_cgi.so was found (${BINARY_CANDIDATES.join(', ')})`)
  return { binary, version: versionOf(binary), installed: true }
}

/** A port nobody listens on right now (lighttpd binds it a moment later; start() retries on a clash). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address()
      server.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}

/**
 * The whole config: mod_cgi for the given extensions (executed directly, as the gateway's cgi apps do),
 * keep-alive without a per-connection request cap (node's server has none either), nothing logged per
 * request (the gateway runs at level warn: no access log).
 */
export function lighttpdConfig (options: { docroot: string, port: number, errorLog: string, cgiExtensions: string[] }): string {
  const q = (s: string): string => JSON.stringify(s)
  return [
    'server.modules = ( "mod_cgi" )',
    `server.document-root = ${q(options.docroot)}`,
    'server.bind = "127.0.0.1"',
    `server.port = ${options.port}`,
    `server.errorlog = ${q(options.errorLog)}`,
    `server.upload-dirs = ( ${q(options.docroot)} )`,
    'server.max-keep-alive-requests = 65535',
    'server.max-keep-alive-idle = 30',
    `cgi.assign = ( ${options.cgiExtensions.map(ext => `${q(ext)} => ""`).join(', ')} )`,
    'mimetype.assign = ( ".txt" => "text/plain" )',
    '',
  ].join('\n')
}

async function waitListening (url: string, isDead: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (isDead()) throw new Error('lighttpd exited during start-up')
    try {
      // Any HTTP answer (the docroot has no index: 403/404) means it is serving.
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return
    } catch {}
    if (performance.now() > deadline) throw new Error(`lighttpd did not answer on ${url} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Starts lighttpd in the foreground on a free loopback port; the config and error log live in `workDir`. */
export async function startLighttpd (lighttpd: Lighttpd, options: { docroot: string, workDir: string, cgiExtensions: string[], timeoutMs?: number }): Promise<LighttpdServer> {
  const errorLog = join(options.workDir, 'lighttpd-error.log')
  const configFile = join(options.workDir, 'lighttpd.conf')
  const readLog = (): string[] => {
    try {
      return readFileSync(errorLog, 'utf8').split('\n').filter(line => line.trim() !== '')
    } catch {
      return []
    }
  }
  let lastError: Error | undefined
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort()
    writeFileSync(errorLog, '')
    writeFileSync(configFile, lighttpdConfig({ docroot: options.docroot, port, errorLog, cgiExtensions: options.cgiExtensions }))
    const test = spawnSync(lighttpd.binary, ['-tt', '-f', configFile], { encoding: 'utf8', timeout: 10_000 })
    if (test.status !== 0) throw new Error(`lighttpd rejects the generated config ${configFile}: ${(test.stdout + test.stderr).trim()}`)
    const child = track(spawn(lighttpd.binary, ['-D', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] }))
    let output = ''
    const keep = (chunk: string): void => { output = (output + chunk).slice(-16 * 1024) }
    child.stdout?.setEncoding('utf8').on('data', keep)
    child.stderr?.setEncoding('utf8').on('data', keep)
    const url = `http://127.0.0.1:${port}`
    try {
      await waitListening(`${url}/`, () => child.exitCode !== null || child.signalCode !== null, options.timeoutMs ?? 10_000)
    } catch (error) {
      await stopChild(child, 1000)
      const log = [...readLog(), ...output.trim().split('\n').filter(Boolean)]
      lastError = new Error(`${(error as Error).message}${log.length === 0 ? '' : `\n--- lighttpd log ---\n${log.join('\n')}`}`)
      // Someone took the port between freePort() and lighttpd's bind: try another one.
      if (/address already in use|can't bind/i.test(log.join('\n'))) continue
      throw lastError
    }
    return {
      url,
      pid: child.pid as number,
      errorLog: () => [...readLog(), ...output.trim().split('\n').filter(Boolean)],
      stop: async () => stopChild(child, 5000),
    }
  }
  throw lastError ?? new Error('lighttpd did not start')
}
