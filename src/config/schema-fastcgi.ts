import { checkDuration, describe, type Fail, isNonEmptyString } from './schema.ts'
import { parseListenAddress } from './listen-address.ts'

/** Keys that belong to fastcgi apps only (and are refused on other apps). */
export const FASTCGI_ONLY_KEYS = ['root', 'index', 'frontController', 'maxConnections', 'connectTimeout', 'keepAliveTimeout'] as const

/**
 * A FastCGI backend address: `unix:/absolute/path`, `host:port` or `[v6]:port`. Returns undefined when
 * the string is none of these.
 */
export function parseFastCgiAddress (value: string): { path: string } | { host: string, port: number } | undefined {
  // The same address syntax as the responder's server.fastcgi.listen; a backend cannot be on port 0.
  const address = parseListenAddress(value)
  if (address === undefined) return undefined
  if (address.kind === 'unix') return { path: address.path }
  return address.port === 0 ? undefined : { host: address.host, port: address.port }
}

/** The checks of an app with `fastcgi` (schema.ts calls this instead of the entry/cgi checks). */
export function checkFastCgiApp (app: Record<string, unknown>, path: string, fail: Fail, errors: string[]): void {
  if (typeof app.fastcgi !== 'string' || parseFastCgiAddress(app.fastcgi) === undefined) {
    fail(`${path}.fastcgi`, "a backend address ('unix:/absolute/path.sock', '127.0.0.1:9000' or '[::1]:9000')", app.fastcgi)
  }
  if (app.entry !== undefined || app.cgi !== undefined) {
    errors.push(`${path}: expected one of \`entry\`, \`cgi\` or \`fastcgi\`, got ${[app.entry !== undefined && 'entry', app.cgi !== undefined && 'cgi', 'fastcgi'].filter(Boolean).join(' and ')}`)
  }
  if (app.mode !== undefined) errors.push(`${path}.mode: expected no mode for a fastcgi app (its requests go to the backend), got ${describe(app.mode)}`)
  if (app.workers !== undefined) errors.push(`${path}.workers: expected no workers for a fastcgi app (the backend has its own; \`concurrency\` and \`maxConnections\` cap requests), got ${describe(app.workers)}`)
  if (!isNonEmptyString(app.root) || app.root.includes('\0')) fail(`${path}.root`, 'the document root the backend sees (a directory path)', app.root)
  if (app.index !== undefined && !(typeof app.index === 'string' && /^[^/\\\0\r\n]+\.[A-Za-z0-9]+$/.test(app.index))) {
    fail(`${path}.index`, "a file name with an extension, such as 'index.php'", app.index)
  }
  if (app.frontController !== undefined && !isScriptPath(app.frontController)) {
    fail(`${path}.frontController`, "a script path under root with an extension, such as 'index.php' or 'public/index.php' (no '.' or '..' segments)", app.frontController)
  }
  if (app.maxConnections !== undefined && !(Number.isInteger(app.maxConnections) && (app.maxConnections as number) >= 1 && (app.maxConnections as number) <= 10_000)) {
    fail(`${path}.maxConnections`, 'an integer from 1 to 10000', app.maxConnections)
  }
  if (app.connectTimeout !== undefined) checkDuration(app.connectTimeout, `${path}.connectTimeout`, fail)
  if (app.keepAliveTimeout !== undefined) checkDuration(app.keepAliveTimeout, `${path}.keepAliveTimeout`, fail)
}

/** An app without `fastcgi` that sets one of its keys. */
export function checkNotFastCgi (app: Record<string, unknown>, path: string, errors: string[]): void {
  for (const key of FASTCGI_ONLY_KEYS) {
    if (app[key] !== undefined) errors.push(`${path}.${key}: expected ${key} only on a fastcgi app (one with \`fastcgi: 'unix:/…' | 'host:port'\`), got ${describe(app[key])}`)
  }
}

/** A relative path of plain segments whose last one has an extension: `index.php`, `public/index.php`. */
function isScriptPath (value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 1024) return false
  const segments = value.split('/')
  return segments.every(segment => segment !== '' && segment !== '.' && segment !== '..' && !/[\\\x00-\x1f\x7f]/.test(segment)) &&
    /\.[A-Za-z0-9]+$/.test(segments[segments.length - 1])
}
