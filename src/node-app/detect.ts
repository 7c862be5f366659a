// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
// Which default exports are Node-style apps (a `(req, res)` listener for `node:http`), and how to get the
// listener out of each. docs/node-apps.md lists the same rules; test/node-app/detect.test.ts checks them.

/** What `node:http` calls for each request: Express and Connect apps are one, Koa's `app.callback()` makes one. */
export type NodeListener = (req: unknown, res: unknown) => unknown

/** A default export recognised as a Node-style app, and how to get its listener (some need a start first). */
export interface NodeApp {
  /** For messages: `an Express app`, `a Koa app`, … */
  readonly what: string
  /** The listener to call per request; Fastify's only after `ready()`. */
  listener (): Promise<NodeListener>
  /** What a listener's `this` is (Fastify's `routing` and an http.Server's listeners expect the server). */
  readonly server: object | undefined
}

/**
 * Recognises the shapes the frameworks' own docs export, and nothing that a fetch handler could be:
 * - an Express or Connect app: a function with `handle` and `use` methods (Express also has `set`);
 * - a Koa app: an object with `callback()` and `use()`, and a `middleware` array;
 * - a Fastify instance: an object with `routing`, `ready()` and a `server`;
 * - a `node:http` (or https) `Server` that is not listening: its `'request'` listeners are called;
 * - any other object with a `handle(req, res)` method and no `fetch` (Connect-style).
 * A plain function is a fetch handler unless its first two parameters are named `req` and `res` (the
 * Node idiom), or `kind: 'node'` says so: a fetch handler `(request, env)` has the same arity.
 */
export function detectNodeApp (value: unknown, forced: boolean): NodeApp | undefined {
  if (typeof value === 'function') {
    const fn = value as NodeListener & Record<string, unknown>
    if (typeof fn.handle === 'function' && typeof fn.use === 'function') {
      return { what: typeof fn.set === 'function' ? 'an Express app' : 'a Connect app', listener: async () => fn, server: undefined }
    }
    if (forced || namesReqRes(fn)) return { what: 'a (req, res) function', listener: async () => fn, server: undefined }
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const app = value as Record<string, unknown>
  if (typeof app.routing === 'function' && typeof app.ready === 'function' && typeof app.server === 'object' && app.server !== null) {
    const server = app.server
    return {
      what: 'a Fastify app',
      server,
      listener: async () => {
        // Plugins and routes register asynchronously: Fastify's own inject() waits for ready() too.
        await (app.ready as () => Promise<unknown>).call(app)
        return app.routing as NodeListener
      },
    }
  }
  if (typeof app.callback === 'function' && typeof app.use === 'function' && Array.isArray(app.middleware)) {
    return { what: 'a Koa app', server: undefined, listener: async () => (app.callback as () => NodeListener).call(app) }
  }
  if (isHttpServer(app)) {
    const server = app as unknown as HttpServerLike
    return {
      what: 'a node:http Server',
      server,
      listener: async () => {
        // listen() binds after a lookup, even of an IP literal: a turn later it shows.
        await new Promise((resolve) => setImmediate(resolve))
        if (server.listening === true) throw new Error('it is already listening: export the server without calling listen(); the gateway takes the requests')
        return function (this: unknown, req: unknown, res: unknown) { server.emit('request', req, res) }
      },
    }
  }
  // Connect-style objects: a fetch object (Hono) has `fetch`, never a bare `handle`.
  if (typeof app.handle === 'function' && typeof app.fetch !== 'function') {
    return { what: 'an object with handle(req, res)', server: undefined, listener: async () => (app.handle as NodeListener).bind(app) }
  }
  return undefined
}

interface HttpServerLike {
  listening?: boolean
  emit (event: string, ...args: unknown[]): boolean
  listeners (event: string): unknown[]
}

/** A `node:http`/`node:https` Server (or any net.Server with `'request'` listeners): duck-typed, so that no module is loaded to check. */
function isHttpServer (value: Record<string, unknown>): boolean {
  if (typeof value.listen !== 'function' || typeof value.listeners !== 'function' || typeof value.emit !== 'function') return false
  const name = (value.constructor as { name?: string } | undefined)?.name
  return name === 'Server' && (value as unknown as HttpServerLike).listeners('request').length > 0
}

/** `function (req, res…)`, `(req, res) =>`, `async (req, res, next) =>`: Node's idiom, never a fetch handler's. */
function namesReqRes (fn: unknown): boolean {
  const source = Function.prototype.toString.call(fn)
  return /^(?:async\s*)?(?:function\s*\*?\s*[\w$]*\s*)?\(\s*req\s*,\s*res\s*[,)]/.test(source)
}
