import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { GatewayError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { DirectSpawner } from './direct-spawner.ts'
import { HelperSpawner } from './helper-spawner.ts'
import type { CgiChild, SpawnSpec, Spawner, StderrSink } from './spawner.ts'

const HELPER_START_MS = 10_000

/**
 * The gateway's spawner: the python3 spawn helper when python3 is on PATH (fast spawns, orphans reaped),
 * else Node's own `child_process` (works everywhere; slower, and a script's orphaned grandchildren are
 * left to PID 1). `WARMGATE_SPAWNER=direct` forces the latter.
 */
export async function createSpawner (log: Logger): Promise<Spawner> {
  const python = process.env.WARMGATE_SPAWNER === 'direct' ? undefined : findOnPath('python3')
  if (python === undefined) {
    log.warn('spawning CGI processes from the gateway itself (no python3 on PATH): slower, and orphaned grandchildren are left to PID 1')
    return new DirectSpawner()
  }
  try {
    return new RestartingSpawner(python, log, await startHelper(python))
  } catch (error) {
    log.warn({ err: error }, `the spawn helper (${python}) did not start; spawning CGI processes from the gateway itself`)
    return new DirectSpawner()
  }
}

async function startHelper (python: string): Promise<HelperSpawner> {
  const helper = new HelperSpawner(python)
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
 * worker's death does) and is replaced at once, so that the next request finds a new one ready.
 */
class RestartingSpawner implements Spawner {
  readonly #python: string
  readonly #log: Logger
  #current: Promise<HelperSpawner>
  #closed = false

  constructor (python: string, log: Logger, first: HelperSpawner) {
    this.#python = python
    this.#log = log
    this.#current = Promise.resolve(this.#watch(first))
  }

  #watch (helper: HelperSpawner): HelperSpawner {
    helper.onDeath = (error) => {
      if (this.#closed) return
      this.#log.error({ err: error }, 'the spawn helper exited; starting a new one')
      this.#current = startHelper(this.#python).then(next => this.#watch(next))
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
        this.#current = startHelper(this.#python).then(next => this.#watch(next))
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

function findOnPath (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}
