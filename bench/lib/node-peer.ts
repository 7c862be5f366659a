// The in-process peers of bench/peers.ts: the same handler module the gateway runs, served without the
// gateway, by a bare node:http server (the ceiling for a fetch-style handler on one thread) or by Fastify.
//   node bench/lib/node-peer.ts --server bare|fastify|fastify-native --app hello|cpu|io|big
// bare, fastify: build a web Request from the Node request, call the handler, send the Response's status,
//   headers and body (read whole: the simplest honest conversion, and the same work the gateway's inline
//   mode does per request).
// fastify-native: Fastify's own route answering the same body and content-type with no web Request or
//   Response at all: "Fastify hello world", what a user would pick. hello only.
// Same start-up contract as serve.ts: one JSON line with `warmgateBenchReady`, the URL and the pid; exits
// when stdin closes (the parent went away) or on SIGTERM/SIGINT.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { announcePeer } from './peer-process.ts'

type Handler = (request: Request, env: Record<string, unknown>, ctx: Record<string, unknown>) => Response | Promise<Response>

const APPS: Record<string, string> = {
  hello: '../../apps/hello.ts',
  cpu: '../../apps/cpu.ts',
  io: '../../apps/io.ts',
  big: '../../apps/big.ts',
}
const HELLO_BODY = 'Hello, world!'

const { values } = parseArgs({ options: { server: { type: 'string' }, app: { type: 'string' } }, strict: true })
const server = values.server ?? ''
const app = values.app ?? ''
if (!(app in APPS)) throw new Error(`--app: expected one of ${Object.keys(APPS).join(', ')}, got '${app}'`)
if (!['bare', 'fastify', 'fastify-native'].includes(server)) throw new Error(`--server: expected bare, fastify or fastify-native, got '${server}'`)
if (server === 'fastify-native' && app !== 'hello') throw new Error('--server fastify-native serves the hello workload only')
const route = `/${app}`
const handler = (await import(new URL(APPS[app], import.meta.url).href) as { default: Handler }).default

/** A web Request for a Node request: URL, method, every header as sent, and the body stream if any. */
function toRequest (req: IncomingMessage): Request {
  const headers: [string, string][] = []
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]])
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  return new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
    method: req.method,
    headers,
    body: hasBody ? Readable.toWeb(req) as ReadableStream : undefined,
    // Required by fetch's Request for a stream body (https://fetch.spec.whatwg.org/#dom-requestinit-duplex).
    ...(hasBody ? { duplex: 'half' } : {}),
  } as RequestInit)
}

/** The handler's answer, read whole: status, header pairs and the body bytes. */
async function callHandler (request: Request): Promise<{ status: number, headers: string[], body: Uint8Array }> {
  // env and ctx: none of the bench handlers reads them.
  const response = await handler(request, {}, {})
  const body = new Uint8Array(await response.arrayBuffer())
  const headers: string[] = []
  for (const [name, value] of response.headers) headers.push(name, value)
  return { status: response.status, headers, body }
}

async function startBare (): Promise<{ port: number, close: () => Promise<void> }> {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url !== route && !req.url?.startsWith(`${route}?`) && !req.url?.startsWith(`${route}/`)) {
      res.writeHead(404, ['content-type', 'text/plain']).end('not found\n')
      return
    }
    callHandler(toRequest(req)).then(({ status, headers, body }) => {
      res.writeHead(status, [...headers, 'content-length', String(body.byteLength)])
      res.end(body)
    }, (error: unknown) => {
      process.stderr.write(`node-peer: handler failed: ${(error as Error).stack ?? String(error)}\n`)
      if (!res.headersSent) res.writeHead(500, ['content-type', 'text/plain']).end('handler failed\n')
      else res.destroy()
    })
  }
  const http = createServer({ keepAliveTimeout: 5000 }, onRequest)
  await new Promise<void>(resolve => http.listen({ host: '127.0.0.1', port: 0 }, resolve))
  return {
    port: (http.address() as AddressInfo).port,
    close: async () => {
      http.closeAllConnections()
      await new Promise(resolve => http.close(resolve))
    },
  }
}

async function startFastify (native: boolean): Promise<{ port: number, close: () => Promise<void> }> {
  const { default: Fastify } = await import('fastify')
  const fastify = Fastify({ logger: false })
  if (native) {
    fastify.get(route, async (_request, reply) => {
      reply.type('text/plain; charset=utf-8')
      return HELLO_BODY
    })
  } else {
    // Every method, the route and anything below it, as the gateway mounts an app.
    const serve = async (request: { raw: IncomingMessage }, reply: { code: (n: number) => unknown, header: (k: string, v: string) => unknown, send: (b: Uint8Array) => unknown }): Promise<void> => {
      const { status, headers, body } = await callHandler(toRequest(request.raw))
      reply.code(status)
      for (let i = 0; i < headers.length; i += 2) reply.header(headers[i], headers[i + 1])
      reply.send(body)
    }
    fastify.all(route, serve)
    fastify.all(`${route}/*`, serve)
  }
  await fastify.listen({ host: '127.0.0.1', port: 0 })
  return { port: (fastify.server.address() as AddressInfo).port, close: async () => { await fastify.close() } }
}

const running = server === 'bare' ? await startBare() : await startFastify(server === 'fastify-native')
announcePeer(running, server, app)
