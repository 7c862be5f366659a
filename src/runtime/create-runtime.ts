import type { ResolvedApp } from '../config/resolve.ts'
import { GatewayError } from '../errors.ts'
import { CgiRuntime } from './cgi-runtime.ts'
import { ColdRuntime } from './cold-runtime.ts'
import { FastCgiRuntime } from './fastcgi-runtime.ts'
import { InlineRuntime } from './inline-runtime.ts'
import type { ProcessRuntimeHooks } from './process-runtime.ts'
import type { Runtime } from './runtime.ts'
import { WarmRuntime, type WarmRuntimeHooks } from './warm-runtime.ts'

export type RuntimeHooks = WarmRuntimeHooks & ProcessRuntimeHooks

/** The runtime registry: one `<Mode>Runtime` per mode, one for CGI directories and one for FastCGI backends. */
export function createRuntime (app: ResolvedApp, hooks: RuntimeHooks): Runtime {
  switch (app.mode) {
    case 'warm': return new WarmRuntime(app, hooks)
    case 'inline': return new InlineRuntime(app, hooks)
    case 'cold': return new ColdRuntime(app, hooks)
    case 'cgi': return new CgiRuntime(app, hooks)
    case 'fastcgi': return new FastCgiRuntime(app, hooks)
    default:
      throw new GatewayError('WG_ERR_MODE_UNAVAILABLE', `apps.${app.name}.mode: '${String(app.mode)}' is not a mode of this version of warmgate`)
  }
}
