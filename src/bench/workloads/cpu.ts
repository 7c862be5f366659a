import { pbkdf2Sync } from 'node:crypto'

/**
 * A few milliseconds of synchronous work per request: PBKDF2-SHA256 with `?n=` iterations (default 14,000,
 * about 2 ms here), the password hashing a sign-in route does. Shows what warm workers buy over inline:
 * the main thread stays free.
 *
 * Why OpenSSL's loop and not one in JavaScript: a JS loop runs at the speed of whichever V8 tier compiled
 * it in that process, and that differed from one process to the next (the same 2M-round integer hash,
 * served inline, gave 78, 152 and 280 req/s in three consecutive gateway processes, and 83 in four others),
 * so the warm/inline ratio measured V8's luck more than the gateway. This one costs the same everywhere.
 */
export default function cpu (request: Request): Response {
  const n = Number(new URL(request.url).searchParams.get('n') ?? 14_000)
  const rounds = Number.isSafeInteger(n) && n >= 1 && n <= 10_000_000 ? n : 14_000
  const key = pbkdf2Sync('correct horse battery staple', 'warmgate', rounds, 16, 'sha256')
  return new Response(`${rounds} rounds: ${key.toString('hex')}\n`, { headers: { 'content-type': 'text/plain' } })
}
