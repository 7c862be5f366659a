import { pickRequestId } from '../http/target.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'

/** `gateway.fetch()`'s front door: a web Request in, the same `GatewayRequest` the HTTP listener makes. */
export async function fromWebRequest (request: Request): Promise<GatewayRequest> {
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
  const body = NULL_BODY.has(res.status) || method === 'HEAD' ? null : res.body as Uint8Array<ArrayBuffer> | null
  return new Response(body, { status: res.status, statusText: res.statusText, headers })
}
