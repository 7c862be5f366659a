// Shared by the main thread (inline mode) and warm workers: imports nothing from either side.
import { GatewayError } from '../errors.ts'
import { describeStripError } from './strip-errors.ts'
import { propagateReloadVersion, RELOAD_PARAM } from './fresh-imports.ts'
import type { LambdaHandler } from '../lambda/adapter.ts'
import { installAwsLambdaGlobal } from '../lambda/global.ts'
import type { FetchHandler } from '../types.ts'
import type { HandlerOptions } from './options.ts'
import { checkHooks, NODE_UPGRADE, WEBSOCKET_HOOKS } from './websocket.ts'

// process.getBuiltinModule, not `import … from 'node:…'`: an ESM import of a builtin builds a facade that
// reads every export, and fs's and util's lazy ones load streams, readline, workers… (~8 ms of each cold request).
const { basename, resolve } = process.getBuiltinModule('node:path')
const { pathToFileURL } = process.getBuiltinModule('node:url')

/**
 * Imports a handler module and returns its fetch function.
 * Accepts `export default fn` and `export default { fetch }` (Cloudflare Workers / Deno / Hono convention),
 * and an AWS Lambda `export const handler` (wrapped by src/lambda/adapter.ts): detected when there is no
 * default export, or forced by `options.kind === 'lambda'` (README "AWS Lambda handlers").
 * `version` (a reload's) goes into the URL's query: ESM caches a module by URL for the life of the
 * thread, so only a new URL reads the file again; its relative imports get the same version
 * (fresh-imports.ts), packages do not.
 */
export async function loadHandler (entry: string, version?: string, options?: HandlerOptions, preferRequire = false): Promise<FetchHandler> {
  const settings = options ?? defaultOptions(entry)
  const kind = settings.kind
  // Before the import: a streaming Lambda module calls awslambda.streamifyResponse at its top level.
  if (kind !== 'fetch') installAwsLambdaGlobal()
  let mod: Record<string, unknown>
  try {
    const url = pathToFileURL(entry)
    if (version !== undefined) {
      propagateReloadVersion()
      url.searchParams.set(RELOAD_PARAM, version)
    }
    mod = (preferRequire && version === undefined ? requireEsm(entry) : undefined) ?? await import(url.href)
  } catch (cause) {
    const reason = describeStripError(cause) ?? (cause instanceof Error ? cause.message : String(cause))
    throw new GatewayError('WG_ERR_HANDLER_LOAD', `handler module ${entry} threw while being imported: ${reason}`, { cause })
  }
  if (kind === 'lambda' || (kind === 'auto' && isLambdaModule(mod))) {
    if (typeof mod.handler !== 'function') {
      throw new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry} is a Lambda app (kind: 'lambda') but has no \`export const handler = async (event, context) => …\`; found ${describeExports(mod)}`)
    }
    const problem = callableProblem(mod.handler)
    if (problem !== undefined) throw new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry}: the Lambda \`handler\` export is ${problem.what}; ${problem.fix}`)
    // Imported only for Lambda apps: a cold-mode process of a fetch app pays nothing for it.
    const { createLambdaHandler } = await import('../lambda/adapter.ts')
    return createLambdaHandler(mod.handler as LambdaHandler, settings)
  }
  if (kind === 'node' || kind === 'auto') {
    const app = await nodeAppOf(mod, entry, kind === 'node')
    if (app !== undefined) return app
  }
  return fetchHandlerOf(mod, entry)
}

/**
 * A Node-style app (`(req, res)`: Express, Koa, Fastify, a node:http Server) wrapped as a fetch handler, or
 * undefined when the default export is not one (and `kind: 'node'` does not insist). Loaded only for such
 * apps: node:http's classes and AsyncLocalStorage cost a fetch app's cold request nothing.
 */
async function nodeAppOf (mod: Record<string, unknown>, entry: string, forced: boolean): Promise<FetchHandler | undefined> {
  const { detectNodeApp } = await import('../node-app/detect.ts')
  let app
  try {
    app = detectNodeApp(mod.default, forced)
  } catch (cause) {
    throw new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry}: reading the default export threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
  if (app === undefined) {
    if (forced) throw new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry} is a Node-style app (kind: 'node') but its default export is not one: export an Express or Connect app, a Koa app, a Fastify instance, a node:http Server that is not listening, or a function (req, res); found ${describeExports(mod)}`)
    return undefined
  }
  let listener
  try {
    listener = await app.listener()
  } catch (cause) {
    throw new GatewayError('WG_ERR_HANDLER_LOAD', `handler module ${entry} exports ${app.what} that failed to start: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
  if (typeof listener !== 'function') throw new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry} exports ${app.what} whose listener is ${describeValue(listener)}, not a function (req, res)`)
  const { createNodeHandler } = await import('../node-app/adapter.ts')
  const handler = createNodeHandler(listener, app.server)
  const server = app.server as { listenerCount?: unknown, emit?: unknown } | undefined
  if (typeof server?.listenerCount === 'function' && typeof server.emit === 'function') Object.defineProperty(handler, NODE_UPGRADE, { value: server })
  return handler
}

/**
 * The default export as a fetch function, checked once here so that a module that can never answer fails
 * start-up (in every mode: warm workers, inline and cold mode's start-up check all load through here)
 * instead of failing every request with a 500.
 */
function fetchHandlerOf (mod: Record<string, unknown>, entry: string): FetchHandler {
  const invalid = (found: string, cause?: unknown): GatewayError => new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry}: ${found}`, { cause })
  const exported = mod.default
  try {
    if (typeof exported === 'function') {
      const problem = callableProblem(exported)
      if (problem !== undefined) throw invalid(`the default export is ${problem.what}; ${problem.fix}`)
      return exported as FetchHandler
    }
    if (typeof exported === 'object' && exported !== null) {
      const fetch = (exported as { fetch?: unknown }).fetch
      if (typeof fetch === 'function') {
        const problem = callableProblem(fetch)
        if (problem !== undefined) throw invalid(`the default export's fetch is ${problem.what}; ${problem.fix}`)
        // Bound once here, not per request: Hono's fetch reads `this`.
        const bound = fetch.bind(exported) as FetchHandler
        const hooks = checkHooks((exported as { websocket?: unknown }).websocket, entry)
        if (hooks !== undefined) Object.defineProperty(bound, WEBSOCKET_HOOKS, { value: hooks })
        return bound
      }
      if (fetch !== undefined) throw invalid(`the default export's fetch is ${describeValue(fetch)}, not a function (request, env, ctx) => Response`)
    }
  } catch (cause) {
    if (cause instanceof GatewayError) throw cause
    // A Proxy (or a getter) that throws when its fetch is read.
    throw invalid(`reading the default export threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause)
  }
  throw invalid(`it must default-export a function (request, env, ctx) => Response or an object with a fetch method, or export a Lambda \`handler\` and no default; found ${describeExports(mod)}`)
}

interface CallableProblem { what: string, fix: string }

/** Why `fn` cannot be called once per request to get a Response, or `undefined` when it can. */
function callableProblem (fn: unknown): CallableProblem | undefined {
  // A class's source starts with `class`; calling one without `new` throws on every request.
  if (/^class\b/.test(Function.prototype.toString.call(fn))) {
    return { what: 'a class', fix: 'export an instance (`export default new Handler()`) or a function' }
  }
  // A generator's call returns an iterator, never a Response.
  let proto: unknown
  try {
    proto = Object.getPrototypeOf(fn)
  } catch {
    return undefined // a Proxy whose trap throws: what calling it does is up to its apply trap
  }
  if (proto === GENERATOR_FUNCTION || proto === ASYNC_GENERATOR_FUNCTION) {
    return { what: proto === GENERATOR_FUNCTION ? 'a generator function' : 'an async generator function', fix: 'export a function (or async function) that returns a Response' }
  }
  return undefined
}

const GENERATOR_FUNCTION = Object.getPrototypeOf(function * () {})
const ASYNC_GENERATOR_FUNCTION = Object.getPrototypeOf(async function * () {})

/**
 * The cold runner's way in (`preferRequire`): `require()` of an ES module (Node >= 22.12) loads it without
 * the asynchronous ESM loader, ~1.5 ms less of every cold request. Only an ES module's namespace is taken;
 * a CommonJS handler (whose require() value is not shaped as import() shapes it) and one with top-level
 * await (which require() refuses) go through import() as before. A handler that throws, throws here.
 */
function requireEsm (entry: string): Record<string, unknown> | undefined {
  let value: unknown
  try {
    const path = resolve(entry)
    value = process.getBuiltinModule('node:module').createRequire(path)(path)
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_REQUIRE_ASYNC_MODULE') return undefined
    throw error
  }
  const isNamespace = typeof value === 'object' && value !== null && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module'
  return isNamespace ? value as Record<string, unknown> : undefined
}

/** Without an app (the cold runner run as a plain CGI script): detect, and the config's defaults. */
function defaultOptions (entry: string): HandlerOptions {
  return { kind: 'auto', appName: basename(entry).replace(/\.[^.]*$/, ''), timeoutMs: 30_000, memoryMb: undefined, payload: '2.0' }
}

/** Lambda's shape: a named `handler` function and no default export (a fetch app has one). */
function isLambdaModule (mod: Record<string, unknown>): boolean {
  return typeof mod.handler === 'function' && mod.default === undefined
}

function describeExports (mod: Record<string, unknown>): string {
  const names = Object.keys(mod).filter(name => name !== 'default')
  const named = names.length === 0 ? 'no named exports' : `named exports: ${names.join(', ')}`
  if (!('default' in mod) || mod.default === undefined) return `no default export (${named})`
  const value = mod.default
  const kind = typeof value === 'object' && value !== null ? 'an object without a fetch method' : describeValue(value)
  return `a default export that is ${kind} (${named})`
}

/** `null`, `a number (42)`, `a string ("x")`, `an object`: what a value is, for a message. */
function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `a ${typeof value} (${String(value)})`
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
