import type { ResolvedApp } from '../config/resolve.ts'
import { GatewayError } from '../errors.ts'
import { CgiRuntime } from './cgi/cgi-runtime.ts'
import { ColdRuntime } from './cold/cold-runtime.ts'
import { FastCgiRuntime } from './fastcgi/fastcgi-runtime.ts'
import { InlineRuntime } from './inline/inline-runtime.ts'
import type { ProcessRuntimeHooks } from './process-runtime.ts'
import type { Runtime } from './runtime.ts'
import { WarmRuntime, type WarmRuntimeHooks } from './warm/warm-runtime.ts'

export type RuntimeHooks = WarmRuntimeHooks & ProcessRuntimeHooks

/**
 * The runtime registry: one `<Mode>Runtime` per mode, one for CGI directories and one for FastCGI backends.
 * `inlineInThread` (`warmgate dev`): an inline app runs in a pool of exactly one worker thread instead
 * of on the main thread. One thread keeps inline's semantics (one module instance, shared by every
 * request, async handlers overlapping), and a reload can then drop the old module graph with its thread:
 * the main thread's ESM cache never forgets a module, so inline reloads would otherwise grow it forever.
 */
export function createRuntime (app: ResolvedApp, hooks: RuntimeHooks, inlineInThread = false): Runtime {
  switch (app.mode) {
    case 'warm': return new WarmRuntime(app, hooks)
    case 'inline': return inlineInThread ? new WarmRuntime(oneThread(app), hooks) : new InlineRuntime(app, hooks)
    case 'cold': return new ColdRuntime(app, hooks)
    case 'cgi': return new CgiRuntime(app, hooks)
    case 'fastcgi': return new FastCgiRuntime(app, hooks)
    default:
      throw new GatewayError('WG_ERR_MODE_UNAVAILABLE', `apps.${app.name}.mode: '${String(app.mode)}' is not a mode of this version of warmgate`)
  }
}

/** An inline app as a one-thread warm pool: no recycling, and no admission limit, as inline has none. */
function oneThread (app: ResolvedApp): ResolvedApp {
  return Object.freeze({
    ...app,
    workers: Object.freeze({ min: 1, max: 1, maxRequests: 0, maxHeapMb: 0, idleTimeoutMs: app.workers.idleTimeoutMs }),
    concurrency: Number.MAX_SAFE_INTEGER,
  })
}
