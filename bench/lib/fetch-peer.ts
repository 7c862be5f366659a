// The fetch-server peers of bench/peers.ts: the same handler module the gateway runs, served by srvx's Node
// adapter or by a Hono app on @hono/node-server, each the way its docs give as the fast path.
//   node bench/lib/fetch-peer.ts --server srvx|hono --app hello|cpu|io|big --packages DIR
// srvx: serve({ fetch: handler }) with FastResponse as the global Response, so the unchanged handler's
//   `new Response(...)` builds srvx's light response (srvx's docs: FastResponse is the fast path on Node).
//   No routing: srvx has none; every path reaches the handler.
// hono: a Hono app mounting the handler at /<app> and below (as the gateway mounts an app), served by
//   @hono/node-server's serve(), which swaps in its own light Request/Response (overrideGlobalObjects,
//   on by default).
// DIR is the scratch dir of bench/lib/peer-packages.ts (its entry files import the installed packages).
// Same start-up contract as node-peer.ts: one JSON line with `warmgateBenchReady`, the URL and the pid;
// exits when stdin closes (the parent went away) or on SIGTERM/SIGINT.
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { announcePeer } from './peer-process.ts'

type Handler = (request: Request, env: Record<string, unknown>, ctx: Record<string, unknown>) => Response | Promise<Response>

interface SrvxModule {
  FastResponse: typeof Response
  serve: (options: { fetch: (request: Request) => Response | Promise<Response>, port: number, hostname: string, silent: boolean, gracefulShutdown: boolean }) => {
    ready: () => Promise<unknown>
    close: (closeActive?: boolean) => Promise<void>
    node?: { server?: { address: () => AddressInfo | string | null } }
  }
}
interface HonoContext { req: { raw: Request } }
interface HonoModule {
  Hono: new () => { all: (path: string, h: (c: HonoContext) => Response | Promise<Response>) => unknown, fetch: (request: Request) => Response | Promise<Response> }
  serve: (options: { fetch: (request: Request) => Response | Promise<Response>, port: number, hostname: string }, listening: (info: AddressInfo) => void) => {
    close: (cb: () => void) => void
    closeAllConnections?: () => void
  }
}

const APPS: Record<string, string> = { hello: '../../apps/hello.ts', cpu: '../../apps/cpu.ts', io: '../../apps/io.ts', big: '../../apps/big.ts' }

const { values } = parseArgs({ options: { server: { type: 'string' }, app: { type: 'string' }, packages: { type: 'string' } }, strict: true })
const server = values.server ?? ''
const app = values.app ?? ''
const packages = values.packages ?? ''
if (!(app in APPS)) throw new Error(`--app: expected one of ${Object.keys(APPS).join(', ')}, got '${app}'`)
if (server !== 'srvx' && server !== 'hono') throw new Error(`--server: expected srvx or hono, got '${server}'`)
if (packages === '') throw new Error('--packages: the scratch dir of bench/lib/peer-packages.ts is required')
const route = `/${app}`

async function startSrvx (): Promise<{ port: number, close: () => Promise<void> }> {
  const srvx = await import(pathToFileURL(join(packages, 'srvx-entry.mjs')).href) as SrvxModule
  globalThis.Response = srvx.FastResponse
  const handler = (await import(new URL(APPS[app], import.meta.url).href) as { default: Handler }).default
  const running = srvx.serve({ fetch: request => handler(request, {}, {}), port: 0, hostname: '127.0.0.1', silent: true, gracefulShutdown: false })
  await running.ready()
  const address = running.node?.server?.address()
  if (address === undefined || address === null || typeof address === 'string') throw new Error('srvx: no TCP address after ready()')
  return { port: address.port, close: async () => { await running.close(true) } }
}

async function startHono (): Promise<{ port: number, close: () => Promise<void> }> {
  const { Hono, serve } = await import(pathToFileURL(join(packages, 'hono-entry.mjs')).href) as HonoModule
  const handler = (await import(new URL(APPS[app], import.meta.url).href) as { default: Handler }).default
  const hono = new Hono()
  const serveApp = (c: HonoContext): Response | Promise<Response> => handler(c.req.raw, {}, {})
  hono.all(route, serveApp)
  hono.all(`${route}/*`, serveApp)
  let running: ReturnType<HonoModule['serve']> | undefined
  const port = await new Promise<number>((resolve) => { running = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, info => resolve(info.port)) })
  return {
    port,
    close: async () => {
      running?.closeAllConnections?.()
      await new Promise<void>(resolve => running?.close(() => resolve()))
    },
  }
}

const running = server === 'srvx' ? await startSrvx() : await startHono()
announcePeer(running, server, app)
