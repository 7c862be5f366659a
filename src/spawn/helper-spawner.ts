import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GatewayError } from '../errors.ts'
import type { CgiChild, ExitStatus, SpawnSpec, Spawner, StderrSink } from './spawner.ts'

const HELPER = fileURLToPath(new URL('./spawn-helper.py', import.meta.url))

type Event =
  | { t: 'ready' }
  | { t: 'failed', id: number, error: string, message: string }
  | { t: 'stderr', id: number, data: string }
  | { t: 'exit', id: number, code: number | null, signal: string | null, dropped?: number }

interface Job {
  spec: SpawnSpec
  child: HelperChild
  input: Socket | undefined
  onStderr: StderrSink
}

/**
 * Spawns through spawn-helper.py, one long-lived small process that posix_spawns every child and is
 * their subreaper (why: see the helper's docstring). The child's stdout (and stdin, with a body) are Unix
 * socket connections from this process to the helper, handed to the child as fd 1 (fd 0): data never
 * passes through the helper. Events (failed, stderr, exit) come back as JSON lines on its stdout.
 * `spawn()` does not wait for the helper to confirm: the child's output flows from the moment it runs,
 * and a spawn that fails ends its stdout with a `WG_ERR_SPAWN` error (one message less per request).
 */
export class HelperSpawner implements Spawner {
  readonly #process: ChildProcess
  readonly #dir: string
  readonly #socket: string
  readonly #jobs = new Map<number, Job>()
  #nextId = 1
  #dead: Error | undefined
  readonly ready: Promise<void>

  /** Set once the helper has exited; a new one must be started for further spawns. */
  get dead (): boolean { return this.#dead !== undefined }

  #closing = false
  /** Called when the helper exits without having been asked to (not after `close()`). */
  onDeath: ((error: GatewayError) => void) | undefined

  constructor (python: string) {
    this.#dir = mkdtempSync(join(tmpdir(), 'warmgate-spawn-'))
    this.#socket = join(this.#dir, 'spawn.sock')
    this.#process = spawn(python, ['-I', '-S', HELPER, this.#socket], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
    this.#process.stdin?.on('error', () => {})
    let markReady!: () => void
    let failReady!: (error: Error) => void
    this.ready = new Promise((resolve, reject) => { markReady = resolve; failReady = reject })
    this.#process.once('error', (error) => failReady(error))
    this.#process.once('exit', (code, signal) => {
      const error = new GatewayError('WG_ERR_SPAWN', `the spawn helper exited (${signal ?? `code ${code}`})`)
      failReady(error)
      this.#die(error)
      if (!this.#closing) this.onDeath?.(error)
    })
    // JSON lines, split by hand (readline's per-line machinery showed up in the profile).
    let pending = ''
    this.#process.stdout?.setEncoding('latin1').on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n')
      pending = lines.pop() as string
      for (const line of lines) {
        const event = JSON.parse(line) as Event
        if (event.t === 'ready') markReady()
        else this.#onEvent(event)
      }
    })
  }

  spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    const id = this.#nextId++
    const out = this.#connect(id, 'out')
    const child = new HelperChild(out, () => this.#send({ t: 'kill', id }))
    let input: Socket | undefined
    if (spec.stdin !== null) {
      input = this.#connect(id, 'in')
      // A script may exit without reading its body: a failed write is not an error of the response.
      input.on('error', () => {})
      input.end(spec.stdin)
      // Nothing comes back on it, but reading is how its end (and so its close) is seen.
      input.resume()
    }
    this.#jobs.set(id, { spec, child, input, onStderr })
    this.#send({ t: 'spawn', id, file: spec.file, args: spec.args, env: spec.env, cwd: spec.cwd, stdin: spec.stdin !== null })
    return Promise.resolve(child)
  }

  #connect (id: number, role: 'out' | 'in'): Socket {
    const socket = connect(this.#socket)
    socket.write(`${id} ${role}\n`)
    if (role === 'out') {
      socket.pause()
      socket.on('error', (cause) => this.#fail(id, new GatewayError('WG_ERR_SPAWN', `cannot reach the spawn helper: ${cause.message}`, { cause })))
    }
    return socket
  }

  /** The process never ran: its stdout ends with the error, and it counts as exited. */
  #fail (id: number, error: GatewayError): void {
    const job = this.#jobs.get(id)
    if (job === undefined) return
    this.#jobs.delete(id)
    job.input?.destroy()
    job.child.fail(error)
  }

  #onEvent (event: Exclude<Event, { t: 'ready' }>): void {
    const job = this.#jobs.get(event.id)
    if (job === undefined) return
    switch (event.t) {
      case 'failed':
        this.#fail(event.id, new GatewayError('WG_ERR_SPAWN', `cannot start ${job.spec.file}: ${event.error} (${event.message})`))
        break
      case 'stderr':
        job.onStderr(Buffer.from(event.data, 'latin1'))
        break
      case 'exit':
        this.#jobs.delete(event.id)
        job.child.exit({ code: event.code, signal: event.signal })
        break
    }
  }

  #send (message: object): void {
    this.#process.stdin?.write(`${JSON.stringify(message)}\n`)
  }

  #die (error: GatewayError): void {
    this.#dead = error
    for (const id of [...this.#jobs.keys()]) this.#fail(id, error)
    rmSync(this.#dir, { recursive: true, force: true })
  }

  async close (): Promise<void> {
    const live = [...this.#jobs.values()].map(job => job.child)
    for (const child of live) child.kill()
    await Promise.all(live.map(async (child) => child.exited))
    if (this.#dead !== undefined) return
    // EOF on its stdin: the helper kills what is left of any group, reaps, and exits.
    this.#closing = true
    const exited = new Promise(resolve => this.#process.once('exit', resolve))
    this.#process.stdin?.end()
    await exited
  }
}

class HelperChild implements CgiChild {
  readonly stdout: Socket
  readonly exited: Promise<ExitStatus>
  readonly #requestKill: () => void
  #resolve!: (status: ExitStatus) => void
  #done = false
  #killed = false

  constructor (stdout: Socket, requestKill: () => void) {
    this.stdout = stdout
    // Readers attach their own listener; this one keeps an error nobody reads any more from being fatal.
    stdout.on('error', noop)
    this.#requestKill = requestKill
    this.exited = new Promise(resolve => { this.#resolve = resolve })
  }

  /** The helper sends SIGTERM to the group, and SIGKILL after the grace period. */
  kill (): void {
    if (this.#killed || this.#done) return
    this.#killed = true
    this.#requestKill()
  }

  exit (status: ExitStatus): void {
    this.#done = true
    this.#resolve(status)
  }

  fail (error: GatewayError): void {
    this.stdout.destroy(error)
    this.exit({ code: null, signal: null, error })
  }
}

function noop (): void {}
