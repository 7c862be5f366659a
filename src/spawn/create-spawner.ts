import { GatewayError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { buildSpawnHelper } from './build-helper.ts'
import { DirectSpawner } from './direct-spawner.ts'
import { findOnPath } from './find-on-path.ts'
import { compiledHelper, type HelperCommand, HelperSpawner, pythonHelper } from './helper-spawner.ts'
import type { CgiChild, SpawnSpec, Spawner, StderrSink } from './spawner.ts'

const HELPER_START_MS = 10_000
const CHOICES = ['c', 'python', 'direct'] as const

/**
 * The gateway's spawner, best first: the compiled spawn helper (spawn-helper.c, built with `cc` on
 * first use: the least CPU per spawn), else the python3 one (same protocol and behaviour, ~0.2 ms more
 * CPU a request), else Node's own `child_process` (works everywhere; slower, and a script's orphaned
 * grandchildren, a setsid daemon among them, are left running under PID 1). Each fallback logs one warn line saying why.
 * `WARMGATE_SPAWNER=c|python|direct` forces one; a forced helper that cannot start is an error.
 */
export async function createSpawner (log: Logger): Promise<Spawner> {
  const choice = process.env.WARMGATE_SPAWNER ?? ''
  if (choice !== '' && !(CHOICES as readonly string[]).includes(choice)) {
    throw new GatewayError('WG_ERR_CONFIG_INVALID', `WARMGATE_SPAWNER: expected one of ${CHOICES.join(', ')}, got ${JSON.stringify(choice)}`)
  }
  if (choice === 'direct') {
    log.warn('spawning CGI processes from the gateway itself (WARMGATE_SPAWNER=direct): slower, and orphaned or daemonized (setsid) descendants of a script are left running under PID 1')
    return new DirectSpawner()
  }
  if (choice !== 'python') {
    try {
      const command = compiledHelper(await buildSpawnHelper())
      return new RestartingSpawner(command, log, await startHelper(command))
    } catch (error) {
      if (choice === 'c') throw forcedFailure('c', error)
      log.warn({ err: error }, `using the python3 spawn helper: the compiled one is unavailable (${(error as Error).message})`)
    }
  }
  const python = findOnPath('python3')
  if (python === undefined) {
    if (choice === 'python') throw new GatewayError('WG_ERR_SPAWN', 'WARMGATE_SPAWNER=python, but there is no python3 on PATH')
    log.warn('spawning CGI processes from the gateway itself (no C compiler and no python3 on PATH): slower, and orphaned or daemonized (setsid) descendants of a script are left running under PID 1')
    return new DirectSpawner()
  }
  const command = pythonHelper(python)
  try {
    return new RestartingSpawner(command, log, await startHelper(command))
  } catch (error) {
    if (choice === 'python') throw forcedFailure('python', error)
    log.warn({ err: error }, `the spawn helper (${python}) did not start; spawning CGI processes from the gateway itself`)
    return new DirectSpawner()
  }
}

function forcedFailure (choice: string, cause: unknown): GatewayError {
  return new GatewayError('WG_ERR_SPAWN', `WARMGATE_SPAWNER=${choice}, but that spawn helper cannot be used: ${(cause as Error).message}`, { cause })
}

async function startHelper (command: HelperCommand): Promise<HelperSpawner> {
  const helper = new HelperSpawner(command)
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([helper.ready, new Promise((_resolve, reject) => { timer = setTimeout(reject, HELPER_START_MS, new Error(`no answer within ${HELPER_START_MS} ms`)) })])
    return helper
  } catch (error) {
    await helper.close().catch(() => {})
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A helper that dies (killed by an operator, the OOM killer) fails what it was running (502, as a warm
 * worker's death does) and is replaced at once, by the same kind of helper, so that the next request
 * finds a new one ready.
 */
class RestartingSpawner implements Spawner {
  readonly #command: HelperCommand
  readonly #log: Logger
  #current: Promise<HelperSpawner>
  #closed = false

  constructor (command: HelperCommand, log: Logger, first: HelperSpawner) {
    this.#command = command
    this.#log = log
    this.#current = Promise.resolve(this.#watch(first))
  }

  #watch (helper: HelperSpawner): HelperSpawner {
    helper.onDeath = (error) => {
      if (this.#closed) return
      this.#log.error({ err: error }, 'the spawn helper exited; starting a new one')
      this.#current = startHelper(this.#command).then(next => this.#watch(next))
      this.#current.catch(() => {}) // a failed restart is retried by the next spawn()
    }
    return helper
  }

  async spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild> {
    const current = this.#current
    let helper = await current.catch(() => undefined)
    if (helper === undefined || helper.dead) {
      // A restart that failed, or a death not reported yet: requests that find it so share one new start.
      if (this.#current === current) {
        this.#current = startHelper(this.#command).then(next => this.#watch(next))
        this.#current.catch(() => {})
      }
      try {
        helper = await this.#current
      } catch (cause) {
        throw new GatewayError('WG_ERR_SPAWN', `the spawn helper could not be restarted: ${(cause as Error).message}`, { cause })
      }
    }
    return helper.spawn(spec, onStderr)
  }

  async close (): Promise<void> {
    this.#closed = true
    const helper = await this.#current.catch(() => undefined)
    await helper?.close()
  }
}
