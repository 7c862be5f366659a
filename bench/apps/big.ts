/**
 * The `big` workload of issue 5: a 1 MiB response body, built once at load so that each request pays for
 * moving the bytes, not for making them. bigBody() is also what nginx serves as a static file in
 * bench/peers.ts, so every server sends the same bytes. (Here until the example apps gain apps/big.ts.)
 */
export const BIG_BYTES = 1024 * 1024

/** 1 MiB of printable ASCII: a 64-byte line repeated (63 characters and a newline). */
export function bigBody (): Uint8Array {
  const line = new TextEncoder().encode('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+\n')
  const body = new Uint8Array(BIG_BYTES)
  for (let at = 0; at < BIG_BYTES; at += line.length) body.set(line, at)
  return body
}

const BODY = bigBody()

export default function big (): Response {
  return new Response(BODY, { headers: { 'content-type': 'text/plain; charset=utf-8' } })
}
