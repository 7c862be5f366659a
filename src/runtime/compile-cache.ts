import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Node's on-disk compile cache (`module.enableCompileCache`), shared by every thread and process the
 * gateway starts: a module's .ts source is type-stripped and compiled once, later loads take the cached
 * code. Cold processes: ~190 → ~80 ms each (measured before the cold runner was bundled); a warm worker thread: ~95 → ~70 ms of CPU to
 * start, which a reload or a recycle pays on the cores that serve requests.
 */
export const COMPILE_CACHE = join(tmpdir(), 'warmgate-compile-cache')
