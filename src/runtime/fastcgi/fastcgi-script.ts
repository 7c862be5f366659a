import type { ErrorCode } from '../../errors.ts'

/** Where a request lands on a FastCGI backend: nginx's `fastcgi_split_path_info` result, checked. */
export interface FastCgiScript {
  /** URL path of the script (route + decoded segments), for SCRIPT_NAME. */
  readonly scriptName: string
  /** Decoded rest of the path, for PATH_INFO; '' when the URL names the script itself. */
  readonly pathInfo: string
  /** The script's path under the document root (`a.php`, `sub/index.php`), without a leading slash. */
  readonly relative: string
}

export type FastCgiScriptLookup = { ok: true, script: FastCgiScript } | { ok: false, code: ErrorCode, reason: string }

// Bytes refused in any decoded segment before a single byte goes to the backend:
// - CR, LF and the other C0 controls and DEL: a newline in PATH_INFO is CVE-2019-11043 (nginx's split
//   regex stops at it, PATH_INFO comes out empty and php-fpm underflows a buffer); no script name
//   needs a control byte;
// - NUL: C strings on the backend would cut SCRIPT_FILENAME short (`a.php%00.txt`);
// - '/' or '\' hidden in one segment (`%2f`, `%5c`), and a '%' left after decoding (double encoding
//   such as `%252e`): all ways to smuggle a separator or a dot segment past this check.
const BAD_SEGMENT = /[\x00-\x1f\x7f/\\]|%[0-9a-f]{2}/i

/**
 * Splits a request path (as sent, still percent-encoded) into script and PATH_INFO the way nginx's
 * `fastcgi_split_path_info ^(.+?\.php)(/.*)$` with `fastcgi_index index.php` does: the first segment
 * ending in the index's extension is the script, the rest is PATH_INFO; a path ending in `/` (or the
 * route itself) runs the index. Anything else is not a script (404), since the gateway serves no
 * static files, unless `frontController` is set: then every path that names no script runs that one,
 * with an empty PATH_INFO (nginx's `try_files $uri /index.php?$query_string`, without its file checks).
 * The path is decoded segment by segment into bytes (kept as a latin1 string, which is how FastCGI
 * params carry them), and `.`/`..` segments are refused rather than resolved, so the script path can
 * never leave the document root. Pure: the backend's file system is not looked at (php-fpm may run on
 * another machine); a missing script is php-fpm's own 404.
 */
export function splitFastCgiPath (route: string, path: string, index: string, frontController?: string): FastCgiScriptLookup {
  const rest = route === '/' ? path : path.slice(route.length)
  const extension = index.slice(index.lastIndexOf('.'))
  const segments: string[] = []
  let scriptEnd = -1
  for (const raw of rest.split('/')) {
    if (raw === '') continue // merge_slashes, as nginx
    const segment = decodePercent(raw)
    if (segment === undefined) return { ok: false, code: 'WG_ERR_BAD_REQUEST', reason: `path segment ${JSON.stringify(raw)} is not valid percent-encoding` }
    if (segment === '.' || segment === '..' || BAD_SEGMENT.test(segment)) {
      return { ok: false, code: 'WG_ERR_BAD_REQUEST', reason: `path segment ${JSON.stringify(raw)} is not allowed in a script path` }
    }
    segments.push(segment)
    // `.+?\.php`: the shortest match, and at least one byte before the extension (`/.php` is no script).
    if (scriptEnd === -1 && segment.length > extension.length && segment.endsWith(extension)) scriptEnd = segments.length
  }
  const base = route === '/' ? '' : route
  const trailingSlash = rest === '' || rest.endsWith('/')
  if (scriptEnd === -1) {
    if (frontController !== undefined) return { ok: true, script: { scriptName: `${base}/${frontController}`, pathInfo: '', relative: frontController } }
    if (!trailingSlash) return { ok: false, code: 'WG_ERR_SCRIPT_NOT_FOUND', reason: `${JSON.stringify(path.slice(0, 200))} names no ${extension} script (and does not end in '/' for ${index})` }
    const relative = [...segments, index].join('/')
    return { ok: true, script: { scriptName: `${base}/${relative}`, pathInfo: '', relative } }
  }
  const relative = segments.slice(0, scriptEnd).join('/')
  const after = segments.slice(scriptEnd)
  // `(/.*)$`: everything after the script, a trailing slash included (`/a.php/` → PATH_INFO `/`).
  const pathInfo = after.length === 0 ? (trailingSlash ? '/' : '') : `/${after.join('/')}${trailingSlash ? '/' : ''}`
  return { ok: true, script: { scriptName: `${base}/${relative}`, pathInfo, relative } }
}

/** `%XX` escapes to bytes, as a latin1 string (one char per byte); undefined for a malformed escape. */
function decodePercent (segment: string): string | undefined {
  if (!segment.includes('%')) return segment
  let out = ''
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i]
    if (char !== '%') {
      out += char
      continue
    }
    const hex = segment.slice(i + 1, i + 3)
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined
    out += String.fromCharCode(Number.parseInt(hex, 16))
    i += 2
  }
  return out
}
