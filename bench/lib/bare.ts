// Control for the hello scenario: a bare node:http server answering what apps/hello.ts answers (same body,
// content-type and an x-request-id), with none of the gateway. It shows the ceiling of this machine and
// load generator; it is not a target. Same start-up contract as serve.ts (one JSON line with the URL).
//   node bench/lib/bare.ts [--fetch]
// --fetch also builds a web Request and reads a web Response per request, as any fetch-style handler on
// the main thread must (used to tell the gateway's own cost from the web API's; not part of bench:quick).
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { fetch: { type: 'boolean', default: false } }, strict: true })
const BODY = 'Hello, world!'

const server = createServer({ keepAliveTimeout: 5000 }, values.fetch
  ? (req, res) => {
      const headers: [string, string][] = []
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]])
      const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { method: req.method, headers, signal: new AbortController().signal })
      void request
      const response = new Response(BODY, { headers: { 'content-type': 'text/plain; charset=utf-8' } })
      response.arrayBuffer().then((body) => {
        const out: string[] = []
        for (const [name, value] of response.headers) out.push(name, value)
        out.push('x-request-id', randomUUID(), 'content-length', String(body.byteLength))
        res.writeHead(response.status, out)
        res.end(new Uint8Array(body))
      }, () => res.destroy())
    }
  : (_req, res) => {
      res.writeHead(200, ['content-type', 'text/plain; charset=utf-8', 'x-request-id', randomUUID(), 'content-length', '13'])
      res.end(BODY)
    })

server.listen({ host: '127.0.0.1', port: 0 }, () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ warmgateBenchReady: true, url: `http://127.0.0.1:${port}`, pid: process.pid }) + '\n')
})
const stop = (): void => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
  setTimeout(() => process.exit(1), 2000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop).on('error', stop).resume()
