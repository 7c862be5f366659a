/**
 * A few milliseconds of synchronous work per request: `?n=` rounds of an integer hash (default 2,000,000,
 * about 2 ms here). Shows what warm workers buy over inline: the main thread stays free.
 */
export default function cpu (request: Request): Response {
  const n = Number(new URL(request.url).searchParams.get('n') ?? 2_000_000)
  const rounds = Number.isSafeInteger(n) && n >= 0 && n <= 1e9 ? n : 2_000_000
  let x = 0x9e3779b9
  for (let i = 0; i < rounds; i++) x = Math.imul(x ^ (x >>> 15), 0x85ebca6b) + i | 0
  return new Response(`${rounds} rounds: ${(x >>> 0).toString(16)}\n`, { headers: { 'content-type': 'text/plain' } })
}
