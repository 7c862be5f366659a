import { METHODS } from 'node:http'
import { MODES } from './define.ts'
import { LISTEN_ADDRESS_EXPECTED, parseListenAddress } from './listen-address.ts'
import { checkFastCgiApp, checkNotFastCgi } from './schema-fastcgi.ts'
import { parseDuration, parseSize } from './units.ts'
import { checkOps } from './ops.ts'

/**
 * Validates a raw config once, at the boundary, and reports every problem at once.
 * Each message names the key path, what was expected and the value found:
 * `apps.hello.workers.max: expected a positive integer, got -1`.
 */
/** Far above any core count; a typo such as 1000 should not fork a thousand gateways. */
export const MAX_PROCESSES = 256

export function validateConfig (raw: unknown): string[] {
  const errors: string[] = []
  const fail = (path: string, expected: string, value: unknown): void => {
    errors.push(`${path}: expected ${expected}, got ${describe(value)}`)
  }

  if (!isPlainObject(raw)) {
    fail('config', 'an object with an `apps` key', raw)
    return errors
  }
  unknownKeys(raw, ['server', 'defaults', 'apps'], '', errors)

  if (raw.server !== undefined) {
    if (!isPlainObject(raw.server)) fail('server', 'an object', raw.server)
    else {
      const server = raw.server
      unknownKeys(server, ['host', 'port', 'bodyLimit', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize', 'shutdownTimeout', 'startupTimeout', 'admin', 'adminPrefix', 'serverTiming', 'fastcgi', 'processes'], 'server.', errors)
      if (server.host !== undefined && !isNonEmptyString(server.host)) fail('server.host', 'a non-empty string', server.host)
      if (server.port !== undefined && !(Number.isInteger(server.port) && (server.port as number) >= 0 && (server.port as number) <= 65535)) {
        fail('server.port', 'an integer from 0 to 65535', server.port)
      }
      checkSize(server.bodyLimit, 'server.bodyLimit', fail)
      checkServerLimits(server, fail)
      checkOps(server, fail)
      if (server.processes !== undefined && server.processes !== 'auto' && !(Number.isInteger(server.processes) && (server.processes as number) >= 1 && (server.processes as number) <= MAX_PROCESSES)) {
        fail('server.processes', `an integer from 1 to ${MAX_PROCESSES} or 'auto'`, server.processes)
      }
      const drainMs = parseDuration(server.shutdownTimeout)
      if (server.shutdownTimeout !== undefined && (drainMs === undefined || drainMs > MAX_TIMEOUT_MS)) {
        fail('server.shutdownTimeout', "a duration of at most 24 days (ms number, or '10s'; 0 does not wait)", server.shutdownTimeout)
      }
      const startupMs = parseDuration(server.startupTimeout)
      if (server.startupTimeout !== undefined && (startupMs === undefined || startupMs > MAX_TIMEOUT_MS)) {
        fail('server.startupTimeout', "a duration of at most 24 days (ms number, or '30s'; 0 refuses at once)", server.startupTimeout)
      }
      if (server.fastcgi !== undefined) checkFastCgi(server.fastcgi, fail, errors)
    }
  }

  let defaultWorkers: Record<string, unknown> = {}
  if (raw.defaults !== undefined) {
    if (!isPlainObject(raw.defaults)) fail('defaults', 'an object', raw.defaults)
    else {
      unknownKeys(raw.defaults, ['mode', 'timeout', 'workers'], 'defaults.', errors)
      checkRuntimeOptions(raw.defaults, 'defaults', fail, errors)
      if (isPlainObject(raw.defaults.workers)) defaultWorkers = raw.defaults.workers
    }
  }

  if (!isPlainObject(raw.apps)) {
    fail('apps', 'an object of apps ({ name: { route, entry } })', raw.apps)
    return errors
  }
  const names = Object.keys(raw.apps)
  if (names.length === 0) errors.push('apps: expected at least one app, got none')
  const routes = new Map<string, string>()
  for (const name of names) {
    const app = raw.apps[name]
    const path = `apps.${name}`
    if (!isPlainObject(app)) {
      fail(path, 'an object with `route` and `entry`', app)
      continue
    }
    unknownKeys(app, ['route', 'entry', 'cgi', 'mode', 'timeout', 'workers', 'env', 'bodyLimit', 'passEnv', 'passAuthorization', 'concurrency', 'maxQueue', 'queueTimeout', 'memoryMb', 'kind', 'lambda', 'fastcgi', 'root', 'index', 'frontController', 'maxConnections', 'connectTimeout', 'keepAliveTimeout', 'bench'], `${path}.`, errors)
    if (typeof app.route !== 'string' || !ROUTE_RE.test(app.route) || DOT_SEGMENT_RE.test(app.route)) {
      fail(`${path}.route`, "a path starting with '/' (no spaces, '?', '#', '//' or dot segments)", app.route)
    } else {
      const route = normalizeRoute(app.route)
      const owner = routes.get(route)
      if (owner !== undefined) errors.push(`${path}.route: expected a route no other app has, got '${app.route}' (also the route of app '${owner}')`)
      else routes.set(route, name)
    }
    if (app.fastcgi === undefined) checkNotFastCgi(app, path, errors)
    if (app.fastcgi !== undefined) checkFastCgiApp(app, path, fail, errors)
    else if (app.cgi !== undefined) {
      if (!isNonEmptyString(app.cgi)) fail(`${path}.cgi`, 'a path to a directory of CGI scripts', app.cgi)
      if (app.entry !== undefined) errors.push(`${path}: expected either \`entry\` (a handler module) or \`cgi\` (a directory of scripts), got both`)
      if (app.mode !== undefined) errors.push(`${path}.mode: expected no mode for a cgi app (its scripts always run one process per request), got ${describe(app.mode)}`)
      if (app.workers !== undefined) errors.push(`${path}.workers: expected no workers for a cgi app (it has no worker pool; \`concurrency\` caps its processes), got ${describe(app.workers)}`)
    } else if (!isNonEmptyString(app.entry)) fail(`${path}.entry`, 'a path to a handler module (or `cgi`: a directory of scripts)', app.entry)
    if (app.passEnv !== undefined && !(Array.isArray(app.passEnv) && app.passEnv.every(name => typeof name === 'string' && ENV_NAME_RE.test(name)))) {
      fail(`${path}.passEnv`, 'an array of environment variable names', app.passEnv)
    }
    if (app.passAuthorization !== undefined && typeof app.passAuthorization !== 'boolean') fail(`${path}.passAuthorization`, 'true or false', app.passAuthorization)
    for (const key of ['concurrency', 'maxQueue'] as const) {
      const value = app[key]
      const least = key === 'maxQueue' ? 0 : 1
      if (value !== undefined && !(Number.isInteger(value) && (value as number) >= least && (value as number) <= 100_000)) {
        fail(`${path}.${key}`, `an integer from ${least} to 100000`, value)
      }
    }
    if (app.queueTimeout !== undefined) checkDuration(app.queueTimeout, `${path}.queueTimeout`, fail)
    if (app.memoryMb !== undefined) {
      if (app.cgi !== undefined || app.fastcgi !== undefined || app.mode === 'cold' || app.mode === 'inline') errors.push(`${path}.memoryMb: expected memoryMb only on a warm app (it limits each worker thread's heap), got ${describe(app.memoryMb)}`)
      else if (!(Number.isInteger(app.memoryMb) && (app.memoryMb as number) >= 16)) fail(`${path}.memoryMb`, 'an integer number of MiB, at least 16', app.memoryMb)
    }
    checkHandlerKind(app, path, fail, errors)
    if (app.bench !== undefined) checkBench(app, path, fail, errors)
    checkRuntimeOptions(app, path, fail, errors)
    if (app.env !== undefined) {
      if (!isPlainObject(app.env)) fail(`${path}.env`, 'an object of strings', app.env)
      else {
        for (const [key, value] of Object.entries(app.env)) {
          if (typeof value !== 'string') fail(`${path}.env.${key}`, 'a string', value)
        }
      }
    }
    checkSize(app.bodyLimit, `${path}.bodyLimit`, fail)
    const workers = isPlainObject(app.workers) ? app.workers : {}
    const min = workers.min ?? defaultWorkers.min
    const max = workers.max ?? defaultWorkers.max
    if (Number.isInteger(min) && Number.isInteger(max) && (min as number) > (max as number)) {
      errors.push(`${path}.workers: expected min <= max, got min ${String(min)} and max ${String(max)}`)
    }
  }
  return errors
}

/** Routes compare without a trailing slash: `/hello/` and `/hello` are one route. */
export function normalizeRoute (route: string): string {
  return route.length > 1 && route.endsWith('/') ? route.replace(/\/+$/, '') || '/' : route
}

const ROUTE_RE = /^\/[^\s?#]*$/
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/
// Request paths are matched after dot segments are resolved, so a route with one could never match.
const DOT_SEGMENT_RE = /\/\.\.?(?:\/|$)|\/\/./

/** setTimeout's ceiling (2^31 - 1 ms, ~24.8 days): a longer delay fires after 1 ms instead. */
export const MAX_TIMEOUT_MS = 2_147_483_647

export type Fail = (path: string, expected: string, value: unknown) => void

function checkRuntimeOptions (obj: Record<string, unknown>, path: string, fail: Fail, errors: string[]): void {
  if (obj.mode !== undefined && !MODES.includes(obj.mode as never)) fail(`${path}.mode`, `one of ${MODES.join(', ')}`, obj.mode)
  if (obj.timeout !== undefined) checkDuration(obj.timeout, `${path}.timeout`, fail)
  if (obj.workers === undefined) return
  if (!isPlainObject(obj.workers)) {
    fail(`${path}.workers`, 'an object ({ min, max })', obj.workers)
    return
  }
  unknownKeys(obj.workers, ['min', 'max', 'maxRequests', 'maxHeapMb', 'idleTimeout'], `${path}.workers.`, errors)
  const { min, max, maxRequests, maxHeapMb, idleTimeout } = obj.workers
  if (min !== undefined && !(Number.isInteger(min) && (min as number) >= 0)) fail(`${path}.workers.min`, 'a non-negative integer', min)
  if (max !== undefined && !(Number.isInteger(max) && (max as number) >= 1)) fail(`${path}.workers.max`, 'a positive integer', max)
  if (maxRequests !== undefined && !(Number.isInteger(maxRequests) && (maxRequests as number) >= 1)) fail(`${path}.workers.maxRequests`, 'a positive integer', maxRequests)
  if (maxHeapMb !== undefined && !(Number.isInteger(maxHeapMb) && (maxHeapMb as number) >= 1)) fail(`${path}.workers.maxHeapMb`, 'a positive integer number of MiB', maxHeapMb)
  if (idleTimeout !== undefined) checkDuration(idleTimeout, `${path}.workers.idleTimeout`, fail)
}

/** `kind` and `lambda` (README "AWS Lambda handlers"): only for handler modules, `lambda` only for Lambda ones. */
function checkHandlerKind (app: Record<string, unknown>, path: string, fail: Fail, errors: string[]): void {
  if (app.kind !== undefined) {
    if (app.cgi !== undefined) errors.push(`${path}.kind: expected no kind for a cgi app (its scripts are CGI executables), got ${describe(app.kind)}`)
    else if (app.kind !== 'fetch' && app.kind !== 'lambda' && app.kind !== 'node') fail(`${path}.kind`, "'fetch', 'lambda' or 'node' (or no kind: detected from the module's exports)", app.kind)
  }
  if (app.lambda === undefined) return
  if (app.cgi !== undefined) errors.push(`${path}.lambda: expected no lambda options for a cgi app, got ${JSON.stringify(app.lambda)}`)
  else if (app.kind === 'fetch' || app.kind === 'node') errors.push(`${path}.lambda: expected no lambda options with kind '${app.kind}', got ${JSON.stringify(app.lambda)}`)
  else if (!isPlainObject(app.lambda)) fail(`${path}.lambda`, "an object ({ payload: '2.0' })", app.lambda)
  else {
    unknownKeys(app.lambda, ['payload'], `${path}.lambda.`, errors)
    const payload = app.lambda.payload
    if (payload !== undefined && payload !== '1.0' && payload !== '2.0') fail(`${path}.lambda.payload`, "'1.0' or '2.0'", payload)
  }
}

/** `bench` (what `warmgate bench` requests of the app): checked with the rules its flags and bench() options use too. */
function checkBench (app: Record<string, unknown>, path: string, fail: Fail, errors: string[]): void {
  const bench = app.bench
  if (app.fastcgi !== undefined) {
    errors.push(`${path}.bench: expected no bench options for a fastcgi app (warmgate bench does not measure it; npm run bench:php does), got ${JSON.stringify(bench)}`)
    return
  }
  if (!isPlainObject(bench)) return fail(`${path}.bench`, 'an object ({ path, method, body, headers })', bench)
  unknownKeys(bench, ['path', 'method', 'body', 'headers'], `${path}.bench.`, errors)
  const pathProblem = bench.path === undefined ? undefined : benchPathProblem(bench.path)
  if (pathProblem !== undefined) fail(`${path}.bench.path`, pathProblem, bench.path)
  const methodProblem = bench.method === undefined ? undefined : benchMethodProblem(bench.method)
  if (methodProblem !== undefined) fail(`${path}.bench.method`, methodProblem, bench.method)
  if (bench.body !== undefined && typeof bench.body !== 'string') fail(`${path}.bench.body`, 'a string (the request body)', bench.body)
  if (bench.headers === undefined) return
  if (!isPlainObject(bench.headers)) return fail(`${path}.bench.headers`, "an object of header names and string values ({ 'content-type': 'application/json' })", bench.headers)
  for (const [name, value] of Object.entries(bench.headers)) {
    const problem = benchHeaderProblem(name, value)
    if (problem !== undefined) errors.push(`${path}.bench.headers.${name}: expected ${problem.expected}, got ${describe(problem.got)}`)
  }
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Request headers bench sets itself (Content-Length from the body) or that would break its keep-alive load. */
export const BENCH_RESERVED_HEADERS: readonly string[] = ['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer']

/** What is wrong with a bench request method (see checkBench), or undefined. Methods are sent upper-cased. */
export function benchMethodProblem (value: unknown): string | undefined {
  if (typeof value !== 'string' || !TOKEN_RE.test(value)) return 'an HTTP method token'
  const method = value.toUpperCase()
  if (method === 'CONNECT') return 'a method other than CONNECT (it opens a tunnel, not a request to measure)'
  // Node's HTTP parser answers any other method 400 before a handler sees it.
  if (!METHODS.includes(method)) return "a method Node's HTTP server accepts, such as GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"
  return undefined
}

/** What is wrong with a bench request path (under the app's route: `/users/1?x=2` or `?n=1000`), or undefined. */
export function benchPathProblem (value: unknown): string | undefined {
  const expected = "a path under the app's route starting with '/' or '?' (visible ASCII, no '#', no '.', '..' or empty segments)"
  if (typeof value !== 'string' || !/^[/?][\x21-\x7e]*$/.test(value) || value.includes('#')) return expected
  const pathPart = value.split('?')[0]
  return DOT_SEGMENT_RE.test(pathPart) || pathPart.includes('//') ? expected : undefined
}

/** What is wrong with a bench request header (its name or its value), or undefined. */
export function benchHeaderProblem (name: string, value: unknown): { expected: string, got: unknown } | undefined {
  if (!TOKEN_RE.test(name)) return { expected: "a header name (a token: letters, digits and !#$%&'*+-.^_`|~)", got: name }
  const lower = name.toLowerCase()
  if (BENCH_RESERVED_HEADERS.includes(lower)) return { expected: `no ${lower} header (bench sets Content-Length from the body and keeps its connections alive)`, got: value }
  if (typeof value !== 'string' || !/^[\t\x20-\x7e]*$/.test(value)) return { expected: 'a string of visible ASCII characters, spaces and tabs', got: value }
  return undefined
}

export function checkDuration (value: unknown, path: string, fail: Fail): void {
  const ms = parseDuration(value)
  if (ms === undefined || ms === 0 || ms > MAX_TIMEOUT_MS) fail(path, "a positive duration of at most 24 days (ms number, or '30s', '250ms')", value)
}

/** The front door's slow-client timeouts and header limit (src/http/server-options.ts). */
function checkServerLimits (server: Record<string, unknown>, fail: Fail): void {
  // Zero would turn a timeout off in Node, which is exactly what these keys exist to prevent.
  for (const key of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout'] as const) {
    const value = server[key]
    const ms = parseDuration(value)
    if (value !== undefined && (ms === undefined || ms < 1 || ms > MAX_TIMEOUT_MS)) {
      fail(`server.${key}`, "a positive duration of at most 24 days (ms number, or '20s', '500ms')", value)
    }
  }
  // Node refuses to start a server whose headersTimeout is longer than its requestTimeout.
  const headers = parseDuration(server.headersTimeout)
  const request = parseDuration(server.requestTimeout)
  if (headers !== undefined && request !== undefined && headers > request && request >= 1) {
    fail('server.headersTimeout', `at most server.requestTimeout (${request} ms)`, server.headersTimeout)
  }
  const size = parseSize(server.maxHeaderSize)
  if (server.maxHeaderSize !== undefined && (size === undefined || size < 1024 || size > 1024 ** 2)) {
    fail('server.maxHeaderSize', "a size from 1kb to 1mb (bytes number, or '16kb')", server.maxHeaderSize)
  }
}

/** `server.fastcgi`: the FastCGI responder's address and connection cap (src/front/fastcgi-server.ts). */
function checkFastCgi (fastcgi: unknown, fail: Fail, errors: string[]): void {
  if (!isPlainObject(fastcgi)) return fail('server.fastcgi', "an object ({ listen: '127.0.0.1:9000' })", fastcgi)
  unknownKeys(fastcgi, ['listen', 'maxConnections'], 'server.fastcgi.', errors)
  if (parseListenAddress(fastcgi.listen) === undefined) fail('server.fastcgi.listen', LISTEN_ADDRESS_EXPECTED, fastcgi.listen)
  const max = fastcgi.maxConnections
  if (max !== undefined && !(Number.isInteger(max) && (max as number) >= 1 && (max as number) <= 100_000)) {
    fail('server.fastcgi.maxConnections', 'an integer from 1 to 100000', max)
  }
}

function checkSize (value: unknown, path: string, fail: Fail): void {
  if (value !== undefined && parseSize(value) === undefined) fail(path, "a size (bytes number, or '1mb', '512kb')", value)
}

function unknownKeys (obj: Record<string, unknown>, known: string[], prefix: string, errors: string[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue
    const guess = closest(key, known)
    errors.push(`${prefix}${key}: unknown key (expected one of ${known.join(', ')})${guess === undefined ? '' : `; did you mean '${guess}'?`}`)
  }
}

/** The known key a typo most likely meant: the same but for case, or within a third of its length in edits. */
function closest (key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase()
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Levenshtein distance, transpositions counted as one edit (`entyr` → `entry`). */
function editDistance (a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1)
    }
  }
  return rows[a.length][b.length]
}

export function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isNonEmptyString (value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== ''
}

export function describe (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}
