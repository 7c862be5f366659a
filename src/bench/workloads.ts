// The workloads `warmgate bench` ships (workloads/, built into the package): what it measures when there is
// no config to read. They must not live outside src/: an installed package has only what was built from it.
import type { AppConfig } from '../config/define.ts'
import { siblingModule } from '../module-file.ts'

/** Warm pools of the shipped workloads: fixed, so that the figures compare across machines and runs. */
export const SHIPPED_WORKERS = 2

const entry = (name: string): string => siblingModule(import.meta.url, `workloads/${name}`)

/** hello: 13 bytes; cpu: ~2 ms of synchronous work; io: awaits a 20 ms timer; big: a 1 MiB body. */
export const SHIPPED_WORKLOADS: Record<string, AppConfig> = {
  hello: { route: '/hello', entry: entry('hello'), workers: { min: SHIPPED_WORKERS, max: SHIPPED_WORKERS } },
  cpu: { route: '/cpu', entry: entry('cpu'), workers: { min: SHIPPED_WORKERS, max: SHIPPED_WORKERS } },
  io: { route: '/io', entry: entry('io'), workers: { min: SHIPPED_WORKERS, max: SHIPPED_WORKERS } },
  big: { route: '/big', entry: entry('big'), workers: { min: SHIPPED_WORKERS, max: SHIPPED_WORKERS } },
}

/** Run when no app is named: the cheap and the CPU-bound case, the two the targets are about. */
export const DEFAULT_SHIPPED = ['hello', 'cpu']
