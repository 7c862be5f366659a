import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { GatewayError } from '../errors.ts'
import type { CgiChild, ExitStatus, SpawnSpec, Spawner, StderrSink } from './spawner.ts'

const HELPER = fileURLToPath(new URL('./spawn-helper.py', import.meta.url))

type Event =
  | { t: 'ready' }
  | { t: 'spawned', id: number, pid: number }
  | { t: 'failed', id: number, error: string, message: string }
  | { t: 'stderr', id: number, data: string }
  | { t: 'exit', id: number, code: number | null, signal: string | null, dropped?: number }

interface Pending {
  spec: SpawnSpec
  out: Socket
  input: Socket | undefined
  onStderr: StderrSink
  resolve: (child: CgiChild) => void
  reject: (error: Error) => void
  child?: HelperChild
}

/**
 * Spawns through spawn-helper.py, one long-lived small process that posix_spawns every child and is
 * their subreaper (why: see the helper's docstring). The child's stdout (and stdin, with a body) are Unix
 * socket connections from this process to the helper, handed to the child as fd 1 (fd 0): data never
 * passes through the helper. Events (spawned, stderr, exit) come back as JSON lines on its stdout.
 */
export class HelperSpawner implements Spawner {
  readonly #process: ChildProcess
  readonly #dir: string
  readonly #socket: string
  readonly #jobs = new Map<number, Pending>()
  #nextId = 1
  #dead: Error | undefined
  readonly ready: Promise<void>

  /** Set once the helper has exited; a new one must be started for further spawns. */
  get dead (): boolean { return this.#dead !== undefined }

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
    })
    const lines = createInterface({ input: this.#process.stdout as NodeJS.ReadableStream, crlfDelay: Infinity })
    lines.on('line', (line) => {
      const event = JSON.parse(line) as Event
      if (event.t === 'ready') markReady()
      else this.#onEvent(event)
    })
  }

  spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    const id = this.#nextId++
    return new Promise<CgiChild>((resolve, reject) => {
      const out = this.#connect(id, 'out', reject)
      const input = spec.stdin === null ? undefined : this.#connect(id, 'in', reject)
      this.#jobs.set(id, { spec, out, input, onStderr, resolve, reject })
      this.#send({ t: 'spawn', id, file: spec.file, args: spec.args, env: spec.env, cwd: spec.cwd, stdin: spec.stdin !== null })
    })
  }

  #connect (id: number, role: 'out' | 'in', reject: (error: Error) => void): Socket {
    const socket = connect(this.#socket)
    socket.on('error', (cause) => {
      const job = this.#jobs.get(id)
      if (job !== undefined && job.child === undefined) {
        this.#jobs.delete(id)
        reject(new GatewayError('WG_ERR_SPAWN', `cannot reach the spawn helper: ${cause.message}`, { cause }))
      }
    })
    socket.write(`${id} ${role}\n`)
    if (role === 'out') socket.pause()
    return socket
  }

  #onEvent (event: Exclude<Event, { t: 'ready' }>): void {
    const job = this.#jobs.get(event.id)
    if (job === undefined) return
    switch (event.t) {
      case 'spawned': {
        const child = new HelperChild(event.pid, job.out, () => this.#send({ t: 'kill', id: event.id }))
        job.child = child
        if (job.input !== undefined) {
          // A script may exit without reading its body: a failed write is not an error of the response.
          job.input.on('error', () => {})
          job.input.end(job.spec.stdin as Uint8Array)
          // Nothing comes back on it, but reading is how its end (and so its close) is seen.
          job.input.resume()
        }
        job.resolve(child)
        break
      }
      case 'failed':
        this.#jobs.delete(event.id)
        job.out.destroy()
        job.input?.destroy()
        job.reject(new GatewayError('WG_ERR_SPAWN', `cannot start ${job.spec.file}: ${event.error} (${event.message})`))
        break
      case 'stderr':
        job.onStderr(Buffer.from(event.data, 'latin1'))
        break
      case 'exit':
        this.#jobs.delete(event.id)
        job.child?.exit({ code: event.code, signal: event.signal })
        break
    }
  }

  #send (message: object): void {
    this.#process.stdin?.write(`${JSON.stringify(message)}\n`)
  }

  #die (error: Error): void {
    this.#dead = error
    for (const [id, job] of this.#jobs) {
      this.#jobs.delete(id)
      if (job.child === undefined) job.reject(error)
      else job.child.exit({ code: null, signal: 'SIGKILL' })
    }
    rmSync(this.#dir, { recursive: true, force: true })
  }

  async close (): Promise<void> {
    const live = [...this.#jobs.values()].flatMap(job => job.child === undefined ? [] : [job.child])
    for (const child of live) child.kill()
    await Promise.all(live.map(async (child) => child.exited))
    if (this.#dead !== undefined) return
    // EOF on its stdin: the helper kills what is left of any group, reaps, and exits.
    const exited = new Promise(resolve => this.#process.once('exit', resolve))
    this.#process.stdin?.end()
    await exited
  }
}

class HelperChild implements CgiChild {
  readonly pid: number
  readonly stdout: Socket
  readonly exited: Promise<ExitStatus>
  readonly #requestKill: () => void
  #resolve!: (status: ExitStatus) => void
  #done = false
  #killed = false

  constructor (pid: number, stdout: Socket, requestKill: () => void) {
    this.pid = pid
    this.stdout = stdout
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
}
