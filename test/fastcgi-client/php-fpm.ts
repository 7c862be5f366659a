import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { FIXTURES, within } from '../helpers/gateway.ts'

// Starts a real php-fpm for a test file: foreground (-F), as the current user (-R when root), without
// the system php.ini (-n), one static pool listening on a unix socket in a temp dir, every file it
// writes under that dir. The test owns the process and stops it in afterAll.

/** php-fpm's binary (its name carries the PHP version: php-fpm8.2), or undefined when it is not installed. */
export const PHP_FPM: string | undefined = [...globSync('/usr/sbin/php-fpm*'), ...globSync('/usr/bin/php-fpm*')].sort().at(-1)
if (PHP_FPM === undefined) console.warn('[fastcgi-client tests] skipped: no php-fpm binary (/usr/sbin/php-fpm*); install php-fpm to run them')

export const PHP_ROOT = join(FIXTURES, 'php')

export interface PhpFpm {
  readonly dir: string
  readonly socket: string
  /** php-fpm's own log (errors, worker output). */
  readonly log: () => string
  /** Starts it (again); resolves once the socket accepts connections. */
  start (): Promise<void>
  /** SIGQUIT (graceful), SIGKILL after 3 s; resolves once it has exited. */
  stop (): Promise<void>
  /** stop(), then the temp dir is removed. */
  dispose (): Promise<void>
}

export function phpFpm (options: { children?: number } = {}): PhpFpm {
  const dir = mkdtempSync(join(tmpdir(), 'wg-php-fpm-'))
  const socket = join(dir, 'php-fpm.sock')
  const config = join(dir, 'php-fpm.conf')
  writeFileSync(config, [
    '[global]',
    `pid = ${join(dir, 'php-fpm.pid')}`,
    // A file, not /proc/self/fd/2: Node's stdio pipes are sockets, which php-fpm cannot open() (ENXIO).
    `error_log = ${join(dir, 'php-fpm.log')}`,
    'daemonize = no',
    '[www]',
    `listen = ${socket}`,
    'pm = static',
    `pm.max_children = ${options.children ?? 4}`,
    'catch_workers_output = yes',
    'clear_env = yes',
    // An upload test sends a few MB; the built-in limits are 2 MB per file and 8 MB per POST.
    'php_admin_value[upload_max_filesize] = 32M',
    'php_admin_value[post_max_size] = 32M',
    `php_admin_value[upload_tmp_dir] = ${dir}`,
    `php_admin_value[session.save_path] = ${dir}`,
    '',
  ].join('\n'))
  let child: ChildProcess | undefined
  const output = (): string => { try { return readFileSync(join(dir, 'php-fpm.log'), 'utf8') } catch { return '' } }
  return {
    dir,
    socket,
    log: output,
    async start () {
      if (child !== undefined) return
      const args = ['-F', '-n', '-y', config, '-p', dir]
      if (process.getuid?.() === 0) args.push('-R')
      const started = spawn(PHP_FPM as string, args, { stdio: 'ignore' })
      child = started
      started.once('exit', () => { if (child === started) child = undefined })
      await within(10_000, `php-fpm to accept on ${socket}`, accepting(socket, started, output))
    },
    async stop () {
      const running = child
      if (running === undefined) return
      const exited = new Promise(resolve => running.once('exit', resolve))
      running.kill('SIGQUIT')
      const timer = setTimeout(() => running.kill('SIGKILL'), 3000)
      await within(5000, 'php-fpm to exit', exited)
      clearTimeout(timer)
      child = undefined
    },
    async dispose () {
      await this.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function accepting (path: string, child: ChildProcess, readLog: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`php-fpm exited with ${child.exitCode} before listening: ${readLog()}`)
    if (existsSync(path)) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(path)
        socket.once('connect', () => { socket.destroy(); resolve(true) })
        socket.once('error', () => resolve(false))
      })
      if (ok) return
    }
    await sleep(20)
  }
}

/**
 * A unix-socket relay in front of a backend that counts the connections it accepts and records every
 * byte the gateway sent: how tests see connection reuse and what reached the backend.
 */
export interface CountingRelay {
  readonly socket: string
  accepted: number
  /** Client connections open now. */
  open: number
  /** Everything the gateway sent, as latin1 text, for "this never reached the backend" checks. */
  sent: string
  close (): Promise<void>
}

export async function countingRelay (dir: string, target: string): Promise<CountingRelay> {
  const path = join(dir, `relay-${Math.random().toString(36).slice(2)}.sock`)
  const sockets = new Set<Socket>()
  const relay: CountingRelay = {
    socket: path,
    accepted: 0,
    open: 0,
    sent: '',
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise(resolve => server.close(resolve))
    },
  }
  const server: Server = createServer((client) => {
    relay.accepted++
    relay.open++
    client.once('close', () => { relay.open-- })
    const upstream = connect(target)
    sockets.add(client).add(upstream)
    client.on('data', (chunk: Buffer) => { relay.sent += chunk.toString('latin1') })
    client.pipe(upstream).pipe(client)
    const close = (): void => { client.destroy(); upstream.destroy() }
    client.once('close', close).on('error', close)
    upstream.once('close', close).on('error', close)
  })
  await new Promise<void>(resolve => server.listen(path, resolve))
  return relay
}
