import type { ResolvedApp } from '../config/resolve.ts'
import { GatewayError } from '../errors.ts'
import { InlineRuntime } from './inline-runtime.ts'
import type { Runtime } from './runtime.ts'
import { WarmRuntime, type WarmRuntimeHooks } from './warm-runtime.ts'

/** The runtime registry: one `<Mode>Runtime` per mode; a mode not built yet says so with a suggestion. */
export function createRuntime (app: ResolvedApp, hooks: WarmRuntimeHooks): Runtime {
  switch (app.mode) {
    case 'warm': return new WarmRuntime(app, hooks)
    case 'inline': return new InlineRuntime(app, hooks)
    default:
      throw new GatewayError('WG_ERR_MODE_UNAVAILABLE', `apps.${app.name}.mode: '${app.mode}' is not available in this version of warmgate; use 'warm' or 'inline'`)
  }
}
