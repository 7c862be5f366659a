// Shared by the main thread (inline mode) and warm workers: imports nothing from either side.
import { pathToFileURL } from 'node:url'
import { GatewayError } from '../errors.ts'
import { propagateReloadVersion, RELOAD_PARAM } from './fresh-imports.ts'
import type { FetchHandler } from '../types.ts'

/**
 * Imports a handler module and returns its fetch function.
 * Accepts `export default fn` and `export default { fetch }` (Cloudflare Workers / Deno / Hono convention).
 * `version` (a reload's) goes into the URL's query: ESM caches a module by URL for the life of the
 * thread, so only a new URL reads the file again; its relative imports get the same version
 * (fresh-imports.ts), packages do not.
 */
export async function loadHandler (entry: string, version?: string): Promise<FetchHandler> {
  let mod: Record<string, unknown>
  try {
    const url = pathToFileURL(entry)
    if (version !== undefined) {
      propagateReloadVersion()
      url.searchParams.set(RELOAD_PARAM, version)
    }
    mod = await import(url.href)
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    throw new GatewayError('WG_ERR_HANDLER_LOAD', `handler module ${entry} threw while being imported: ${reason}`, { cause })
  }
  const exported = mod.default
  if (typeof exported === 'function') return exported as FetchHandler
  if (typeof exported === 'object' && exported !== null && typeof (exported as { fetch?: unknown }).fetch === 'function') {
    const app = exported as { fetch: FetchHandler }
    // Bound once here, not per request: Hono's fetch reads `this`.
    return app.fetch.bind(app)
  }
  throw new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry} must default-export a function (request, env, ctx) => Response or an object with a fetch method; found ${describeExports(mod)}`)
}

function describeExports (mod: Record<string, unknown>): string {
  const names = Object.keys(mod).filter(name => name !== 'default')
  const named = names.length === 0 ? 'no named exports' : `named exports: ${names.join(', ')}`
  if (!('default' in mod) || mod.default === undefined) return `no default export (${named})`
  const value = mod.default
  const kind = value === null ? 'null' : typeof value === 'object' ? 'an object without a fetch method' : `a ${typeof value}`
  return `a default export that is ${kind} (${named})`
}
