// The streaming benchmark's handler (bench/stream.ts), served by bench/lib/serve.ts --app stream.
//   /stream/ttfb         a first chunk at once, the end ~50 ms later
//   /stream/bulk?mb=N    N MB in 64 KiB chunks, each made when the gateway pulls (a new buffer each)
const CHUNK = 64 * 1024
const encoder = new TextEncoder()

export default function stream (request: Request): Response {
  const url = new URL(request.url)
  if (url.pathname.endsWith('/ttfb')) {
    return new Response(new ReadableStream({
      start (controller) {
        controller.enqueue(encoder.encode('first chunk\n'))
        setTimeout(() => {
          controller.enqueue(encoder.encode('last chunk\n'))
          controller.close()
        }, 50)
      },
    }))
  }
  const total = Number(url.searchParams.get('mb') ?? 100) * 1024 * 1024
  let sent = 0
  return new Response(new ReadableStream({
    pull (controller) {
      if (sent >= total) return controller.close()
      controller.enqueue(new Uint8Array(CHUNK).fill(120))
      sent += CHUNK
    },
  }), { headers: { 'content-type': 'application/octet-stream' } })
}
