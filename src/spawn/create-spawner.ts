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

/** A helper that dies (killed by an operator, OOM) fails what it was running and is replaced for the next request. */
class RestartingSpawner implements Spawner {
  readonly #python: string
  readonly #log: Logger
  #current: Promise<HelperSpawner>

  constructor (python: string, log: Logger, first: HelperSpawner) {
    this.#python = python
    this.#log = log
    this.#current = Promise.resolve(first)
  }

  async spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild> {
    const current = this.#current
    let helper = await current
    if (helper.dead) {
      // Concurrent requests that all found it dead start one replacement between them.
      if (this.#current === current) {
        this.#log.error('the spawn helper exited; starting a new one')
        this.#current = startHelper(this.#python)
      }
      try {
        helper = await this.#current
      } catch (cause) {
        this.#current = current // the next request tries again
        throw new GatewayError('WG_ERR_SPAWN', `the spawn helper could not be restarted: ${(cause as Error).message}`, { cause })
      }
    }
    return helper.spawn(spec, onStderr)
  }

  async close (): Promise<void> {
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
