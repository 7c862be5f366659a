import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { GatewayError } from '../errors.ts'
import { killSession } from './kill-session.ts'
import { type CgiChild, type ExitStatus, KILL_GRACE_MS, type SpawnSpec, type Spawner, type StderrSink } from './spawner.ts'

const PYTHON_HELPER = fileURLToPath(new URL('./spawn-helper.py', import.meta.url))
/** Frame header: type (1 byte), job id (4), payload length (4), big-endian (spawn-helper.py FRAME). */
const HEADER = 9
/** The helper's WINDOW: stdout bytes it sends ahead of our acks. We ack in halves of it. */
const WINDOW = 256 * 1024
const ACK_AT = WINDOW / 2

/** How to start a spawn helper; the socket path and the kill grace are appended to `args`. */
export interface HelperCommand {
  /** `c`: the compiled spawn-helper.c; `python`: spawn-helper.py. Same protocol, same behaviour. */
  readonly kind: 'c' | 'python'
  readonly file: string
  readonly args: readonly string[]
}

/** The python helper, run by `python` (an absolute python3), isolated from the user's site and env. */
export function pythonHelper (python: string): HelperCommand {
  return { kind: 'python', file: python, args: ['-I', '-S', PYTHON_HELPER] }
}

/** The compiled helper at `binary` (build-helper.ts). */
export function compiledHelper (binary: string): HelperCommand {
  return { kind: 'c', file: binary, args: [] }
}

interface Job {
  spec: SpawnSpec
  child: HelperChild
  input: Socket | undefined
  onStderr: StderrSink
}

/**
 * Spawns through a spawn helper (spawn-helper.c compiled, or spawn-helper.py), one long-lived small process that posix_spawns every child and is
 * their subreaper (why: see the helper's docstring), and leads the session they all join. Commands go to it as JSON lines; the children's
 * stdout and stderr and their exits come back as frames on its stdout, stdout under a window of acks
 * (backpressure reaches the script). A request body goes to the child over its own Unix-socket
 * connection, which becomes the child's fd 0.
 * `spawn()` does not wait for the helper to confirm: a spawn that fails ends the child's stdout with a
 * `WG_ERR_SPAWN` error.
 */
export class HelperSpawner implements Spawner {
  readonly #process: ChildProcess
  readonly #dir: string
  readonly #socket: string
  readonly #jobs = new Map<number, Job>()
  #nextId = 1
  #dead: Error | undefined
  #closing = false
  readonly ready: Promise<void>
  /** Called when the helper exits without having been asked to (not after `close()`). */
  onDeath: ((error: GatewayError) => void) | undefined

  /** Which helper this is, and how it was started. */
  readonly command: HelperCommand

  /** Set once the helper has exited; a new one must be started for further spawns. */
  get dead (): boolean { return this.#dead !== undefined }

  /** The helper's process id (undefined if it could not be started). */
  get pid (): number | undefined { return this.#process.pid }

  constructor (command: HelperCommand) {
    this.command = command
    this.#dir = mkdtempSync(join(tmpdir(), 'warmgate-spawn-'))
    this.#socket = join(this.#dir, 'spawn.sock')
    this.#process = spawn(command.file, [...command.args, this.#socket, String(KILL_GRACE_MS)], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
    this.#process.stdin?.on('error', () => {})
    let markReady!: () => void
    let failReady!: (error: Error) => void
    this.ready = new Promise((resolve, reject) => { markReady = resolve; failReady = reject })
    this.#process.once('error', (error) => failReady(error))
    this.#process.once('exit', (code, signal) => {
      const error = new GatewayError('WG_ERR_SPAWN', `the spawn helper exited (${signal ?? `code ${code}`})`)
      // Killed outright (SIGKILL, the OOM killer), it could not kill what it ran: its scripts would run on
      // under PID 1. Every one is in its session (the helper's setsid), so we kill them by it, now, before
      // a new helper could be given the same number.
      if (!this.#closing && this.#process.pid !== undefined) killSession(this.#process.pid)
      failReady(error)
      this.#die(error)
      if (!this.#closing) this.onDeath?.(error)
    })
    this.#readFrames(markReady)
  }

  /** Splits the helper's stdout into frames; never paused, so the helper never blocks on it for long. */
  #readFrames (onReady: () => void): void {
    let buffered: Buffer = Buffer.alloc(0)
    this.#process.stdout?.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      let offset = 0
      while (buffered.length - offset >= HEADER) {
        const length = buffered.readUInt32BE(offset + 5)
        if (buffered.length - offset < HEADER + length) break
        const type = buffered[offset]
        const id = buffered.readUInt32BE(offset + 1)
        const payload = buffered.subarray(offset + HEADER, offset + HEADER + length)
        offset += HEADER + length
        if (type === 0x52 /* R */) onReady()
        else this.#onFrame(type, id, payload)
      }
      buffered = offset === buffered.length ? Buffer.alloc(0) : buffered.subarray(offset)
    })
  }

  #onFrame (type: number, id: number, payload: Buffer): void {
    const job = this.#jobs.get(id)
    if (job === undefined) return
    switch (type) {
      case 0x4f: // O: stdout bytes
        job.child.data(payload)
        break
      case 0x45: // E: stdout ended
        job.child.stdout.push(null)
        break
      case 0x53: // S: stderr bytes
        job.onStderr(payload)
        break
      case 0x58: { // X: exited, after stdout and stderr ended
        const status = JSON.parse(payload.toString()) as { code: number | null, signal: string | null }
        this.#jobs.delete(id)
        job.child.exit({ code: status.code, signal: status.signal })
        break
      }
      case 0x46: { // F: could not be started
        const failure = JSON.parse(payload.toString()) as { error: string, message: string }
        this.#fail(id, new GatewayError('WG_ERR_SPAWN', `cannot start ${job.spec.file}: ${failure.error} (${failure.message})`))
        break
      }
    }
  }

  spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    const id = this.#nextId++
    const child = new HelperChild(
      () => this.#send({ t: 'kill', id }),
      (n) => this.#send({ t: 'ack', id, n }),
      () => this.#send({ t: 'drop', id }),
    )
    let input: Socket | undefined
    if (spec.stdin !== null) {
      input = connect(this.#socket)
      input.write(`${id} in\n`)
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

  /** The process never ran (or the helper died): its stdout ends with the error, and it counts as exited. */
  #fail (id: number, error: GatewayError): void {
    const job = this.#jobs.get(id)
    if (job === undefined) return
    this.#jobs.delete(id)
    job.input?.destroy()
    job.child.fail(error)
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
  readonly stdout: Readable
  readonly exited: Promise<ExitStatus>
  readonly #requestKill: () => void
  readonly #ack: (n: number) => void
  #resolve!: (status: ExitStatus) => void
  /** Bytes passed on to the reader and not acked yet. */
  #owed = 0
  #held = 0
  #done = false
  #killed = false

  constructor (requestKill: () => void, ack: (n: number) => void, drop: () => void) {
    this.#requestKill = requestKill
    this.#ack = ack
    // Every byte the helper sends is within its window, so the buffer here is bounded by it; acks
    // (from read(), i.e. when the reader wants more) are what let the script write on.
    this.stdout = new Readable({ highWaterMark: 64 * 1024, read: () => this.#release() })
    // Readers attach their own listener; this one keeps an error nobody reads any more from being fatal.
    this.stdout.on('error', noop)
    // Destroyed before its end (client gone, HEAD, a failed head): the helper stops reading it, else a
    // script blocked on a full pipe would never see the end of its request.
    this.stdout.once('close', () => { if (!this.stdout.readableEnded && !this.#done) drop() })
    this.exited = new Promise(resolve => { this.#resolve = resolve })
  }

  data (chunk: Buffer): void {
    // The frame's bytes belong to a larger buffer that is reused: copy out what the stream keeps.
    if (this.stdout.push(Buffer.from(chunk))) this.#owe(chunk.byteLength)
    else this.#held += chunk.byteLength
  }

  #owe (n: number): void {
    this.#owed += n
    if (this.#owed >= ACK_AT) {
      this.#ack(this.#owed)
      this.#owed = 0
    }
  }

  #release (): void {
    if (this.#held === 0) return
    const n = this.#held
    this.#held = 0
    this.#owe(n)
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
