import { isAbsolute } from 'node:path'

/** Where a listener binds: a TCP host and port, or a unix domain socket path. */
export type ListenAddress =
  | { readonly kind: 'tcp', readonly host: string, readonly port: number }
  | { readonly kind: 'unix', readonly path: string }

// A host name or IPv4 literal, or an IPv6 literal in brackets (RFC 3986 §3.2.2), then `:port`.
const TCP_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$/

/**
 * Parses `'127.0.0.1:9000'`, `'[::1]:9000'`, `'localhost:9000'` or `'unix:/run/warmgate.sock'` (an absolute
 * path); `undefined` for anything else. Used by the config schema and by the CLI's `--fastcgi`.
 * @example
 * parseListenAddress('unix:/run/warmgate.sock') // { kind: 'unix', path: '/run/warmgate.sock' }
 */
export function parseListenAddress (text: unknown): ListenAddress | undefined {
  if (typeof text !== 'string') return undefined
  if (text.startsWith('unix:')) {
    const path = text.slice(5)
    // The kernel's sun_path holds 108 bytes with its NUL (Linux unix(7)).
    return isAbsolute(path) && Buffer.byteLength(path) < 108 && !path.includes('\0') ? { kind: 'unix', path } : undefined
  }
  const match = TCP_RE.exec(text)
  if (match === null) return undefined
  const port = Number(match[2])
  if (port > 65535) return undefined
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1]
  return { kind: 'tcp', host, port }
}

/** The address as users write it (`127.0.0.1:9000`, `[::1]:9000`, `unix:/path`). */
export function formatListenAddress (address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

export const LISTEN_ADDRESS_EXPECTED = "an address: 'host:port' (e.g. '127.0.0.1:9000', '[::1]:9000') or 'unix:/absolute/path.sock'"
