// The HTTP server's 'upgrade' listener: a WebSocket handshake routed to an app that accepts WebSockets
// is upgraded (by ws) and handed to the app's runtime; anything else is served as the plain HTTP request
// it also is (RFC 9110 §7.8: a server may ignore Upgrade), as it was before this listener existed.
import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocketServer } from 'ws'
import { errorResponse } from '../gateway/error-response.ts'
import type { MountedApp } from '../gateway/mounted-app.ts'
import { isOperatorPath, recordAnswer } from '../gateway/pipeline.ts'
import { malformedReason, type ListenerContext } from '../http/listener.ts'
import { pickRequestId, requestTarget } from '../http/target.ts'
import { WebSocketConnection } from './connection.ts'

/** Keep-alive: every open connection is pinged this often; one that did not answer the previous ping is cut. */
export const PING_INTERVAL_MS = 30_000

/** What the upgrade listener shares with the gateway: every open connection, for keep-alive pings. */
export class WebSocketHub {
  readonly #open = new Set<WebSocketConnection>()
  #timer: NodeJS.Timeout | undefined

  add (conn: WebSocketConnection): void {
    this.#open.add(conn)
    this.#timer ??= setInterval(() => { for (const c of this.#open) c.ping() }, PING_INTERVAL_MS).unref()
  }

  delete (conn: WebSocketConnection): void {
    this.#open.delete(conn)
    if (this.#open.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}

let wsModule: Promise<typeof import('ws')> | undefined
/** One ws server (no socket of its own) per app: its `maxPayload` is the app's bodyLimit. */
const servers = new WeakMap<MountedApp, WebSocketServer>()

/**
 * @example
 * server.on('upgrade', createUpgradeListener(context, onRequest, hub))
 */
export function createUpgradeListener (context: ListenerContext, onRequest: (req: IncomingMessage, res: ServerResponse) => void, hub: WebSocketHub): (req: IncomingMessage, socket: Socket, head: Buffer) => void {
  return function onUpgrade (req, socket, head) {
    const started = performance.now()
    const asHttp = (): void => serveAsHttp(req, socket, head, onRequest)
    // Not a WebSocket handshake, a malformed request (the listener answers 400), or the apps still starting
    // (the listener waits for them, as for any request): the request listener's to answer.
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || context.table.starting === true || malformedReason(req) !== undefined) return asHttp()
    const secure = (socket as { encrypted?: boolean }).encrypted === true
    const target = requestTarget(req.url ?? '/', req.headers.host, context.fallbackHost(), secure)
    if (target === undefined || context.adminOnly === true || isOperatorPath(context, target.pathname)) return asHttp()
    const app = context.table.router.match(target.pathname)
    if (app === undefined) return asHttp()
    const id = pickRequestId(req.headers['x-request-id'])
    const asked = { id, method: req.method ?? 'GET', path: target.pathname, started }
    const refusal = app.config.mode === 'cold'
      ? 'a cold-mode app runs one process per request and cannot hold a connection open; run it in warm or inline mode'
      : app.runtime.websocketRefusal?.()
    if (refusal !== undefined) {
      app.log.warn({ reqId: id, code: 'WG_ERR_WEBSOCKET_UNSUPPORTED' }, `websocket upgrade refused: ${refusal}`)
      recordAnswer(context, asked, app, 501, false)
      return refuse(socket, id)
    }
    // Inline, a Node-style app with 'upgrade' listeners of its own (ws on its server, socket.io): the
    // request and socket are its to answer, as they would be on its own server.
    const own = app.closingSockets ? undefined : app.runtime.nodeUpgrade?.()
    if (own !== undefined) {
      recordAnswer(context, asked, app, 101, false)
      return own(req, socket, head)
    }
    if (app.runtime.acceptsWebSocket?.() !== true || app.closingSockets) return asHttp()
    wsModule ??= import('ws')
    wsModule.then(({ WebSocketServer }) => {
      let server = servers.get(app)
      if (server === undefined) {
        // No compression: permessage-deflate costs memory per connection and CPU per message (ws's own advice for servers).
        server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: app.config.bodyLimit })
        servers.set(app, server)
      }
      // ws checks the handshake (RFC 6455 §4.2.1) and answers a bad one with 400 itself.
      server.handleUpgrade(req, socket, head, (ws) => {
        const remoteAddress = socket.remoteAddress ?? ''
        const conn = new WebSocketConnection(ws, id, target.url, req.rawHeaders, remoteAddress, { name: app.config.name, log: app.log, metrics: app.metrics }, (ended) => {
          hub.delete(ended)
          app.sockets.delete(ended)
        })
        hub.add(conn)
        app.sockets.add(conn)
        recordAnswer(context, asked, app, 101, false)
        // A reload or a shutdown that began meanwhile: this connection belongs to an app that is leaving.
        if (app.closingSockets) return conn.close(1012, 'service restart')
        app.runtime.attachWebSocket?.(conn)
      })
    }).catch((error: unknown) => {
      context.log.error({ reqId: id, err: error }, 'websocket upgrade failed')
      socket.destroy()
    })
  }
}

/** The upgrade request, answered by the normal request listener over a response that closes the connection. */
function serveAsHttp (req: IncomingMessage, socket: Socket, head: Buffer, onRequest: (req: IncomingMessage, res: ServerResponse) => void): void {
  if (head.byteLength > 0) socket.unshift(head)
  const res = new ServerResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket)
  res.once('finish', () => socket.end())
  onRequest(req, res)
}

/** 501 on the raw socket: the handshake cannot be served in this mode (docs/websockets.md). */
function refuse (socket: Socket, id: string): void {
  const res = errorResponse('WG_ERR_WEBSOCKET_UNSUPPORTED', id)
  const body = res.body as Uint8Array
  socket.end(`HTTP/1.1 ${res.status} ${res.statusText}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.byteLength}\r\nx-request-id: ${id}\r\n\r\n${Buffer.from(body).toString('latin1')}`)
}
