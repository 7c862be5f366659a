import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'

/** How long a closing connection is still read from (and what arrives dropped) before it is destroyed. */
export const LINGER_MS = 2000

/** Connections being closed this way: a request parsed from what they still send is never run. */
const lingering = new WeakSet<Socket>()

/** Whether this connection is closing with input still arriving: its further requests are dropped unanswered. */
export function isLingering (socket: Socket): boolean {
  return lingering.has(socket)
}

/**
 * RFC 9112 §9.6: a server that closes while the client is still sending makes the kernel reset the
 * connection, and the reset can erase the answer before the client reads it. So: send what is queued and a
 * FIN, keep reading for LINGER_MS (what arrives is dropped, never run), then destroy. A client that closes
 * its side first ends it sooner.
 * @example
 * lingeringClose(socket, Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n...'))
 */
export function lingeringClose (socket: Socket, answer?: Buffer): void {
  if (lingering.has(socket)) return
  lingering.add(socket)
  if (answer === undefined) socket.end()
  else socket.end(answer)
  socket.resume()
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
  socket.once('end', () => socket.destroy())
}

/**
 * For a response that ends its connection before the request's body was read (413, or a final answer to
 * `Expect: 100-continue`): Node's server destroys the socket right after the response's FIN
 * (`socket.destroySoon()` in its finish handler), while the client is still sending, and the client then
 * sees a reset, often instead of the answer. This connection lingers instead. (`destroySoon` is what
 * Node's http server has called there since v0.x; an own property shadows it for this socket only.)
 */
export function lingerInsteadOfDestroy (socket: Socket, request: Readable): void {
  const closing = socket as Socket & { destroySoon?: () => void }
  closing.destroySoon = () => {
    // A body the gateway stopped reading (paused at the limit) is read again, into nothing.
    request.resume()
    lingeringClose(socket)
  }
}
