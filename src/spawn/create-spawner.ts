import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Logger } from '../log/logger.ts'
import { DirectSpawner } from './direct-spawner.ts'
import { HelperSpawner } from './helper-spawner.ts'
import type { Spawner } from './spawner.ts'

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
  const helper = new HelperSpawner(python)
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([helper.ready, new Promise((_resolve, reject) => { timer = setTimeout(reject, 10_000, new Error('no answer within 10 s')) })])
    return helper
  } catch (error) {
    log.warn({ err: error }, `the spawn helper (${python}) did not start; spawning CGI processes from the gateway itself`)
    await helper.close().catch(() => {})
    return new DirectSpawner()
  } finally {
    clearTimeout(timer)
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
