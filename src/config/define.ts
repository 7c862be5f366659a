import type { OpsServerConfig } from './ops.ts'

/** A duration: a number of milliseconds, or a string such as `'30s'`, `'250ms'`, `'2m'`, `'1h'`. */
export type Duration = number | string
/** A size: a number of bytes, or a string such as `'1mb'`, `'512kb'`, `'10b'` (1024-based). */
export type Size = number | string

/** `warm` keeps a pool of worker threads; `inline` runs on the server's event loop; `cold` spawns a process per request. */
export type Mode = 'warm' | 'inline' | 'cold'

export const MODES: readonly Mode[] = ['warm', 'inline', 'cold']

/** What runs an app: a handler module in one of the modes, a directory of CGI executables, or a FastCGI backend. */
export type AppKind = Mode | 'cgi' | 'fastcgi'

/**
 * What a handler module exports: `fetch` (a default-exported fetch function or `{ fetch }` object) or `lambda`
 * (an AWS Lambda `handler(event, context)` named export; README "AWS Lambda handlers").
 */
export type HandlerKind = 'fetch' | 'lambda' | 'node'

/** The API Gateway payload format a Lambda handler gets: HTTP API 2.0, or the REST API / HTTP API 1.0 shape. */
export type LambdaPayload = '1.0' | '2.0'

export interface LambdaConfig {
  /** Event and result format. Default `'2.0'`. */
  payload?: LambdaPayload
}

export interface WorkersConfig {
  /** Workers started (and their handler imported) before the server reports ready. Default 1. */
  min?: number
  /** Most workers the pool grows to under load. Default: the number of CPUs, at least `min`. */
  max?: number
  /** Retire a worker gracefully after it has answered this many requests (php-fpm's `pm.max_requests`). Default: never. */
  maxRequests?: number
  /** Retire a worker after a request when its V8 heap is above this many MiB. Default: never. */
  maxHeapMb?: number
  /** A worker above `min` idle this long is stopped (with `min: 0`: scale to zero). Default `'30s'`. */
  idleTimeout?: Duration
}

export interface AppConfig {
  /** Path prefix: `'/hello'` matches `/hello`, `/hello/` and `/hello/x`. The longest prefix wins. */
  route: string
  /** The handler module (`.ts`, `.js`, `.mjs`), relative to the config file. Either `entry` or `cgi`. */
  entry?: string
  /** A directory of CGI/1.1 executables (any language), relative to the config file. Either `entry` or `cgi`. */
  cgi?: string
  /**
   * A FastCGI backend the app forwards to (php-fpm or any FastCGI responder): `'unix:/run/php/php-fpm.sock'`,
   * `'127.0.0.1:9000'` or `'[::1]:9000'`. Takes the place of `entry`; needs `root`.
   */
  fastcgi?: string
  /** Fastcgi: the document root as the backend sees it (SCRIPT_FILENAME = root + script path), relative to the config file. */
  root?: string
  /** Fastcgi: the script a path ending in `/` runs, and whose extension splits SCRIPT_NAME from PATH_INFO. Default `'index.php'`. */
  index?: string
  /**
   * Fastcgi: the script (under `root`, e.g. `'index.php'` or `'public/index.php'`) that runs every request
   * whose path names no script, as nginx's `try_files $uri /index.php?$query_string` does for a framework's
   * front controller; `REQUEST_URI` stays as sent, `PATH_INFO` is empty. Default: none (such a path is a 404).
   */
  frontController?: string
  /** Fastcgi: most connections to the backend (idle ones are reused with FCGI_KEEP_CONN). Default: `concurrency`. */
  maxConnections?: number
  /** Fastcgi: time allowed to connect to the backend before a 502. Default `'5s'`. */
  connectTimeout?: Duration
  /** Fastcgi: an idle backend connection is closed after this long. Default `'10s'`. */
  keepAliveTimeout?: Duration
  /** Not allowed with `cgi` or `fastcgi`. */
  mode?: Mode
  timeout?: Duration
  workers?: WorkersConfig
  /** Strings handed to the handler as its `env` argument (cold and cgi: also set in the process environment). */
  env?: Record<string, string>
  bodyLimit?: Size
  /** Cold and cgi: names of the gateway's own environment variables a child may see (besides `PATH`); fastcgi: sent as params. */
  passEnv?: string[]
  /** Cgi and fastcgi: pass `Authorization` / `Proxy-Authorization` as `HTTP_*` variables. Default false (cold: always true). */
  passAuthorization?: boolean
  /**
   * Most requests the app runs at once (warm: across its pool; cold and cgi: live processes). Others wait.
   * Default: 32 for cold and cgi, 32 per worker (`workers.max` × 32) for warm. Not used by inline apps.
   */
  concurrency?: number
  /** Most requests waiting for a slot (see `concurrency`); beyond it, an immediate 503 + Retry-After. Default 256. */
  maxQueue?: number
  /** Longest a request may wait in that queue before a 503. Default `'10s'`. */
  queueTimeout?: Duration
  /** Warm: heap limit of each worker thread (V8 old generation), in MiB; a worker that passes it is replaced. */
  memoryMb?: number
  /**
   * How the entry module is called: `'fetch'` (a fetch handler), `'lambda'` (an AWS Lambda `handler`) or
   * `'node'` (a `(req, res)` app: Express, Koa, Fastify, a node:http Server). Default: detected from the
   * module's exports (docs/node-apps.md lists the rules). Not allowed with `cgi`.
   */
  kind?: HandlerKind
  /** Lambda handlers: the event format. Not allowed with `cgi` or `kind: 'fetch'`. */
  lambda?: LambdaConfig
  /**
   * What `warmgate bench` requests of this app (default: `GET` of the route itself; a cgi app: one of its
   * scripts). Its `--path`, `--method`, `--body` and `--header` flags override these. Not allowed with `fastcgi`.
   */
  bench?: BenchRequestConfig
}

/**
 * The request `warmgate bench` sends to an app, over and over.
 * @example
 * bench: { path: '/users/1?x=2', method: 'POST', body: '{"name":"a"}', headers: { 'content-type': 'application/json' } }
 */
export interface BenchRequestConfig {
  /** Path (and query) under the app's route, starting with `/` or `?`: `'/users/1?x=2'` requests `/api/users/1?x=2` of an app at `/api`. Default: the route itself. */
  path?: string
  /** HTTP method, sent upper-cased (not CONNECT). Default `'GET'`, or `'POST'` when there is a `body`. */
  method?: string
  /** Request body; Content-Length is set from it. Default: none. */
  body?: string
  /** Request headers, such as `{ 'content-type': 'application/json' }` (not Content-Length, Transfer-Encoding or Connection). */
  headers?: Record<string, string>
}

export interface ServerConfig extends OpsServerConfig {
  host?: string
  port?: number
  /** Largest request body accepted (413 above it). Default `'1mb'`. */
  bodyLimit?: Size
  /** Time for a request's whole header block to arrive, counted from its first byte (408 after it). Default `'20s'`, at most `requestTimeout`. */
  headersTimeout?: Duration
  /** Time for a whole request, headers and body, to arrive (408 after it). Default `'60s'`. */
  requestTimeout?: Duration
  /** How long an idle keep-alive connection stays open between requests. Default `'5s'`. */
  keepAliveTimeout?: Duration
  /** Largest request header block, request line included (431 above it). Default `'16kb'`; from `'1kb'` to `'1mb'`. */
  maxHeaderSize?: Size
  /** How long close() (SIGTERM/SIGINT) and a reload's drain let requests in flight finish. Default `'10s'`. */
  shutdownTimeout?: Duration
  /**
   * How long a request that arrives while the apps are still starting (the port opens before the pools are
   * prewarmed) waits for them; past it, 503 `WG_ERR_STARTING` with `Retry-After`. Default `'30s'`; `0`
   * refuses at once. Health answers at once and readiness stays 503 until every app is started.
   */
  startupTimeout?: Duration
  /** Also accept FastCGI connections (warmgate behind nginx or lighttpd; README "FastCGI responder"). */
  fastcgi?: FastCgiServerConfig
  /**
   * Gateway processes serving the one port (`warmgate start` only), each with its own pools; `'auto'`: one
   * per core (`os.availableParallelism()`). Above 1, the started process supervises them. Default 1.
   */
  processes?: number | 'auto'
}

export interface FastCgiServerConfig {
  /** `'127.0.0.1:9000'`, `'[::1]:9000'` or `'unix:/run/warmgate.sock'`. */
  listen: string
  /** Most FastCGI connections open at once; a BEGIN_REQUEST on one more is answered OVERLOADED. Default 1024. */
  maxConnections?: number
}

export interface DefaultsConfig {
  mode?: Mode
  timeout?: Duration
  workers?: WorkersConfig
}

export interface GatewayConfig {
  server?: ServerConfig
  defaults?: DefaultsConfig
  apps: Record<string, AppConfig>
}

/**
 * Identity function that gives a config file its types. A plain object works just as well.
 * @example
 * import { defineConfig } from 'warmgate'
 * export default defineConfig({ apps: { hello: { route: '/hello', entry: './apps/hello.ts' } } })
 */
export function defineConfig (config: GatewayConfig): GatewayConfig {
  return config
}
