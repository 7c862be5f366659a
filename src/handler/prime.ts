// Shared by the main thread (inline mode) and warm workers: imports nothing from either side.

/**
 * Node loads its fetch classes (undici) lazily, on first use: ~20-30 ms that would otherwise land on the
 * first request of every worker. Pay it at start-up, before READY, so the first request is warm.
 */
export async function primeWebClasses (): Promise<void> {
  const request = new Request('http://127.0.0.1/', { method: 'POST', headers: [['x', 'y']], body: new Uint8Array(1) })
  await request.arrayBuffer()
  for (const _ of new Response('x', { headers: { a: 'b' } }).headers) { /* iterate once */ }
  await new Response('x').arrayBuffer()
}
