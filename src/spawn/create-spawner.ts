import type { Logger } from '../log/logger.ts'
import { DirectSpawner } from './direct-spawner.ts'
import type { Spawner } from './spawner.ts'

/** The gateway's spawner. */
export async function createSpawner (_log: Logger): Promise<Spawner> {
  return new DirectSpawner()
}
