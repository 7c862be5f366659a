import { type ChildProcess, spawn } from 'node:child_process'
import { GatewayError } from '../errors.ts'
import { type CgiChild, type ExitStatus, KILL_GRACE_MS, type SpawnSpec, type Spawner, type StderrSink } from './spawner.ts'

/**
 * Spawns each child from the gateway process itself (`child_process.spawn`, `detached` so that each is
 * its own process group). Simple and always available; the cost is a fork of the whole gateway per
 * request, and what leaves a script's group (a setsid daemon) is out of reach: the gateway is no
 * subreaper, so it is neither found nor killed, and orphans are reaped by PID 1 only (see
 * helper-spawner.ts for both).
 */
export class DirectSpawner implements Spawner {
  readonly #live = new Set<DirectChild>()

  spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild> {
    let child: ChildProcess
    try {
      child = spawn(spec.file, spec.args, {
        cwd: spec.cwd,
        env: spec.env,
        detached: true,
        stdio: [spec.stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      })
    } catch (cause) {
      return Promise.reject(new GatewayError('WG_ERR_SPAWN', `cannot start ${spec.file}: ${(cause as Error).message}`, { cause }))
    }
    return new Promise((resolve, reject) => {
      child.once('error', (cause: NodeJS.ErrnoException) => {
        reject(new GatewayError('WG_ERR_SPAWN', `cannot start ${spec.file}: ${cause.code ?? cause.message}`, { cause }))
      })
      child.once('spawn', () => {
        const wrapped = new DirectChild(child, () => this.#live.delete(wrapped))
        this.#live.add(wrapped)
        child.stderr?.on('data', onStderr)
        if (spec.stdin !== null && child.stdin !== null) {
          // A script may exit without reading its body: EPIPE on stdin is not an error of the response.
          child.stdin.on('error', noop)
          child.stdin.end(spec.stdin)
        }
        resolve(wrapped)
      })
    })
  }

  async close (): Promise<void> {
    const live = [...this.#live]
    for (const child of live) child.kill()
    await Promise.all(live.map(async (child) => child.exited))
  }
}

class DirectChild implements CgiChild {
  readonly pid: number
  readonly stdout
  readonly exited: Promise<ExitStatus>
  #killed = false
  #reaped = false

  constructor (child: ChildProcess, onExit: () => void) {
    this.pid = child.pid as number
    this.stdout = child.stdout as NonNullable<ChildProcess['stdout']>
    this.stdout.pause()
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#reaped = true
        // The leader is gone; whatever it left in its group (a background grandchild) goes too.
        if (killGroup(this.pid, 'SIGTERM')) setTimeout(killGroup, KILL_GRACE_MS, this.pid, 'SIGKILL').unref()
        onExit()
        resolve({ code, signal })
      })
    })
  }

  kill (): void {
    if (this.#killed || this.#reaped) return
    this.#killed = true
    killGroup(this.pid, 'SIGTERM')
    const timer = setTimeout(() => { if (!this.#reaped) killGroup(this.pid, 'SIGKILL') }, KILL_GRACE_MS)
    void this.exited.then(() => clearTimeout(timer))
  }
}

/** `kill(-pgid)`; false when the group is already empty (ESRCH, the normal case after an exit). */
export function killGroup (pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

function noop (): void {}
