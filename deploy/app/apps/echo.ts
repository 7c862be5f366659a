/**
 * Reflects the request as JSON: method, URL, every header as received (repeated ones stay separate) and
 * the body as base64, so binary bodies survive. `?raw` answers with the body bytes themselves instead.
 */
export default {
  async fetch (request: Request): Promise<Response> {
    const body = new Uint8Array(await request.arrayBuffer())
    const url = new URL(request.url)
    if (url.searchParams.has('raw')) {
      return new Response(body, { headers: { 'content-type': request.headers.get('content-type') ?? 'application/octet-stream' } })
    }
    return Response.json({
      method: request.method,
      url: request.url,
      headers: [...request.headers],
      bodyLength: body.byteLength,
      bodyBase64: Buffer.from(body).toString('base64'),
    })
  },
}
