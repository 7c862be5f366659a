/**
 * Waits on a timer (`?ms=`, default 20, at most 10 000) before answering: an I/O-bound handler. Shows how
 * many requests one worker (or the main thread) keeps in flight at once while it waits.
 */
export default async function io (request: Request): Promise<Response> {
  const raw = Number(new URL(request.url).searchParams.get('ms') ?? 20)
  const ms = Number.isFinite(raw) && raw >= 0 && raw <= 10_000 ? raw : 20
  await new Promise(resolve => setTimeout(resolve, ms))
  return new Response(`waited ${ms} ms\n`, { headers: { 'content-type': 'text/plain' } })
}
