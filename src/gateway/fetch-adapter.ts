import { Readable } from 'node:stream'
import { pickRequestId } from '../http/target.ts'
import type { BufferedRequest, GatewayResponse } from '../types.ts'

/**
 * `gateway.fetch()`'s front door: a web Request in, the same `GatewayRequest` the HTTP listener makes.
 * The body is read whole: an embedder's Request is already in memory, there is no socket to pace.
 */
export async function fromWebRequest (request: Request): Promise<BufferedRequest> {
  const headers: string[] = []
  for (const [name, value] of request.headers) headers.push(name, value)
  const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer())
  return {
    id: pickRequestId(request.headers.get('x-request-id') ?? undefined),
    method: request.method,
    url: request.url,
    headers,
    body: body !== null && body.byteLength > 0 ? body : null,
  }
}

const NULL_BODY = new Set([101, 103, 204, 205, 304])

export function toWebResponse (res: GatewayResponse, method: string, requestId: string): Response {
  const headers = new Headers()
  for (let i = 0; i < res.headers.length; i += 2) headers.append(res.headers[i], res.headers[i + 1])
  if (!headers.has('x-request-id')) headers.set('x-request-id', requestId)
  let body: ConstructorParameters<typeof Response>[0] = null
  if (res.body instanceof Readable) {
    if (NULL_BODY.has(res.status) || method === 'HEAD') res.body.destroy()
    else body = Readable.toWeb(checkLength(res.body, headers.get('content-length'))) as ReadableStream<Uint8Array<ArrayBuffer>>
  } else if (!NULL_BODY.has(res.status) && method !== 'HEAD') body = res.body as Uint8Array<ArrayBuffer> | null
  return new Response(body, { status: res.status, statusText: res.statusText, headers })
}

/** A process's stdout that ends short of its declared Content-Length errors, as the socket would close. */
function checkLength (stream: Readable, declared: string | null): Readable {
  if (declared === null) return stream
  const expected = Number(declared)
  let seen = 0
  return Readable.from((async function * () {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const room = expected - seen
      seen += chunk.byteLength
      if (seen >= expected) {
        yield chunk.subarray(0, room)
        return
      }
      yield chunk
    }
    if (seen < expected) throw new Error(`the response ended after ${seen} of its ${expected} bytes`)
  })(), { objectMode: false })
}
