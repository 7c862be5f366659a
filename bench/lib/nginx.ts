// nginx serving static files, the machine's ceiling in bench/peers.ts: our own server process (never the
// system service), a generated config with every path under a temp prefix, 127.0.0.1 on a free port, in the
// foreground (`daemon off`), stopped by its pid, its worker found in /proc and killed too if it outlives it.
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stopChild, track } from './children.ts'
import { freePort } from './lighttpd.ts'
import { processTree } from './proc-tree.ts'

const BINARY_CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']
const INSTALL_TIMEOUT_MS = 300_000

export interface Nginx {
  binary: string
  version: string
  /** Set when the bench installed it in this run. */
  installed: boolean
}

export interface NginxServer {
  url: string
  pid: number
  errorLog (): string[]
  stop (): Promise<void>
}

export class NginxMissing extends Error {}

function findBinary (): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8', timeout: 5000 })
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

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined when it is gone. */
function startTimeOf (pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function versionOf (binary: string): string {
  const result = spawnSync(binary, ['-v'], { encoding: 'utf8', timeout: 5000 })
  return (result.stdout + result.stderr).split('\n')[0].trim()
}

/**
 * nginx, installed with apt-get (nginx-light: the static-file server and little else) when missing and we
 * run as root; otherwise an NginxMissing error that says what to run. Debian's package may try to start its
 * own service on port 80: it is never used (ours has its own prefix, config and loopback port).
 */
export function ensureNginx (log: (line: string) => void): Nginx {
  let binary = findBinary()
  if (binary !== undefined) return { binary, version: versionOf(binary), installed: false }
  if (process.getuid?.() !== 0) throw new NginxMissing('nginx is not installed. Install it (as root): apt-get install -y nginx-light — then run the bench again.')
  log(`nginx is not installed: running apt-get install -y nginx-light (at most ${INSTALL_TIMEOUT_MS / 1000} s)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], { stdio: 'inherit', env, timeout: INSTALL_TIMEOUT_MS }).status === 0
  // A fresh container often has no package lists yet: update once and retry.
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env, timeout: INSTALL_TIMEOUT_MS })
    if (!install()) throw new NginxMissing('nginx is not installed and apt-get install -y nginx-light failed (see above)')
  }
  binary = findBinary()
  if (binary === undefined) throw new NginxMissing(`apt-get installed nginx-light, but no nginx binary was found (${BINARY_CANDIDATES.join(', ')})`)
  return { binary, version: versionOf(binary), installed: true }
}

/**
 * The whole config. One worker: the node servers it is compared with answer on one thread too, and the
 * other core is wrk's. No access log (the gateway runs at level warn: none either), keep-alive without a
 * per-connection request cap (node's server has none), sendfile as any static deployment has it.
 */
export function nginxConfig (options: { prefix: string, docroot: string, port: number }): string {
  const q = (s: string): string => JSON.stringify(s)
  const p = (name: string): string => q(join(options.prefix, name))
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${p('nginx.pid')};`,
    `error_log ${p('error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${p('client_body')};`,
    `  proxy_temp_path ${p('proxy')};`,
    `  fastcgi_temp_path ${p('fastcgi')};`,
    `  uwsgi_temp_path ${p('uwsgi')};`,
    `  scgi_temp_path ${p('scgi')};`,
    '  default_type text/plain;',
    '  charset utf-8;',
    '  sendfile on;',
    '  keepalive_requests 1000000;',
    '  keepalive_timeout 30s;',
    '  server {',
    `    listen 127.0.0.1:${options.port};`,
    `    root ${q(options.docroot)};`,
    '  }',
    '}',
    '',
  ].join('\n')
}

async function waitListening (url: string, isDead: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (isDead()) throw new Error('nginx exited during start-up')
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return
    } catch {}
    if (performance.now() > deadline) throw new Error(`nginx did not answer on ${url} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Starts nginx in the foreground on a free loopback port, serving `docroot`; everything else lives in `prefix`. */
export async function startNginx (nginx: Nginx, options: { docroot: string, prefix: string, timeoutMs?: number }): Promise<NginxServer> {
  mkdirSync(options.prefix, { recursive: true })
  const errorLog = join(options.prefix, 'error.log')
  const configFile = join(options.prefix, 'nginx.conf')
  const readLog = (): string[] => {
    try {
      return readFileSync(errorLog, 'utf8').split('\n').filter(line => line.trim() !== '')
    } catch {
      return []
    }
  }
  // -p: relative paths under our prefix; -e: the log nginx opens before it reads the config, else /var/log/nginx.
  const base = ['-p', options.prefix, '-e', errorLog, '-c', configFile]
  let lastError: Error | undefined
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort()
    writeFileSync(errorLog, '')
    writeFileSync(configFile, nginxConfig({ prefix: options.prefix, docroot: options.docroot, port }))
    const test = spawnSync(nginx.binary, ['-t', '-q', ...base], { encoding: 'utf8', timeout: 10_000 })
    if (test.status !== 0) throw new Error(`nginx rejects the generated config ${configFile}: ${(test.stdout + test.stderr).trim()}`)
    const child = track(spawn(nginx.binary, base, { stdio: ['ignore', 'pipe', 'pipe'] }))
    let output = ''
    const keep = (chunk: string): void => { output = (output + chunk).slice(-16 * 1024) }
    child.stdout?.setEncoding('utf8').on('data', keep)
    child.stderr?.setEncoding('utf8').on('data', keep)
    const pid = child.pid as number
    // The master forks its worker: SIGTERM to the master stops both; if the master had to be SIGKILLed,
    // the worker would be left running, so it is looked up and stopped by its own pid.
    const stop = async (): Promise<void> => {
      const workers = processTree(pid).filter(p => p.pid !== pid)
      await stopChild(child, 5000)
      // Only a process that is still that worker (same pid and start time): a pid may have been reused.
      for (const worker of workers) {
        if (startTimeOf(worker.pid) !== worker.startTime) continue
        try {
          process.kill(worker.pid, 'SIGKILL')
        } catch {}
      }
    }
    const url = `http://127.0.0.1:${port}`
    try {
      await waitListening(`${url}/`, () => child.exitCode !== null || child.signalCode !== null, options.timeoutMs ?? 10_000)
    } catch (error) {
      await stop()
      const log = [...readLog(), ...output.trim().split('\n').filter(Boolean)]
      lastError = new Error(`${(error as Error).message}${log.length === 0 ? '' : `\n--- nginx log ---\n${log.join('\n')}`}`)
      // Someone took the port between freePort() and nginx's bind: try another one.
      if (/address already in use/i.test(log.join('\n'))) continue
      throw lastError
    }
    return { url, pid, errorLog: () => [...readLog(), ...output.trim().split('\n').filter(Boolean)], stop }
  }
  throw lastError ?? new Error('nginx did not start')
}
