/**
 * A 1 MiB response body, built once when the module loads: what it costs to move a large body out of the
 * handler (across the worker's message port in warm mode, through a pipe in cold mode).
 */
const BODY = bigBody()

/** The body's bytes (a fresh copy): bench/peers.ts has nginx serve the same file. */
export function bigBody (): Uint8Array {
  return new TextEncoder().encode('0123456789abcdef'.repeat(64 * 1024))
}

export default function big (): Response {
  return new Response(BODY, { headers: { 'content-type': 'application/octet-stream' } })
}
