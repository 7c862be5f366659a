import { connect, type Socket } from 'node:net'
import type { ResolvedFastCgi } from '../../config/resolve.ts'
import { GatewayError } from '../../errors.ts'

/** One backend connection, carrying one request at a time (FastCGI spec §5.1: no multiplexing here). */
export interface FastCgiConnection {
  readonly socket: Socket
  /** Requests it has carried before the current one (0: freshly connected). */
  served: number
  /**
   * Closes the connection once it has been idle for keepAliveTimeout. Made at its first release and
   * refreshed at each one after (one timer a connection, not one a request); firing while the
   * connection is busy does nothing.
   */
  idleTimer: NodeJS.Timeout | undefined
  /**
   * The request the connection carries now, which its socket's events go to. The listeners are the
   * connection's, set once when it connects: adding and removing four of them for every request cost
   * more than the request's own records did.
   */
  user: ConnectionUser | undefined
}

/** What a request running on a connection hears of its socket. */
export interface ConnectionUser {
  onData (chunk: Buffer): void
  /** The socket ended, closed or failed (`error`) under the request. */
  onClosed (error?: Error): void
}

export interface FastCgiPoolStats {
  /** Connections open now (busy and idle). */
  readonly open: number
  readonly idle: number
  /** Connections opened since the pool was made. */
  readonly opened: number
}

// Connect errors that mean "nothing listens there": the backend is down or not started yet.
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTSOCK'])

/**
 * The connections of one fastcgi app: reused after END_REQUEST when the request went cleanly
 * (FCGI_KEEP_CONN, §3.5/§5.1), discarded on any error, closed when idle for `keepAliveTimeout`, and
 * all closed by `close()`. The runtime's slots cap the requests in flight at `maxConnections`, so
 * `acquire` never waits for a connection: it takes an idle one or opens one.
 */
export class FastCgiPool {
  readonly #options: ResolvedFastCgi
  /** Most recently used last: reuse takes the warmest, so the rest can time out and free their children. */
  readonly #idle: FastCgiConnection[] = []
  readonly #busy = new Set<FastCgiConnection>()
  #opened = 0
  #closed = false

  constructor (options: ResolvedFastCgi) {
    this.#options = options
  }

  stats (): FastCgiPoolStats {
    return { open: this.#idle.length + this.#busy.size, idle: this.#idle.length, opened: this.#opened }
  }

  /** An idle connection, or a new one. Rejects with WG_ERR_FASTCGI_UNAVAILABLE, or the signal's reason. */
  acquire (signal: AbortSignal): FastCgiConnection | Promise<FastCgiConnection> {
    const idle = this.#idle.pop()
    if (idle !== undefined) {
      this.#busy.add(idle)
      return idle
    }
    return this.#connect(signal)
  }

  /** Gives a connection back: kept for the next request when `reusable`, else closed. */
  release (conn: FastCgiConnection, reusable: boolean): void {
    if (!this.#busy.delete(conn)) return
    const { socket } = conn
    if (!reusable || this.#closed || socket.destroyed || !socket.readable || !socket.writable) {
      socket.destroy()
      return
    }
    conn.served++
    // The backend says nothing on an idle connection; a byte there is a protocol error, an end is a
    // backend that closed it (php-fpm after pm.max_requests, a restart): either way it is dropped (the
    // connection's own listeners, set in #connect, with no user).
    conn.user = undefined
    if (conn.idleTimer === undefined) {
      conn.idleTimer = setTimeout(() => { if (!this.#busy.has(conn)) this.#drop(conn) }, this.#options.keepAliveTimeoutMs)
      conn.idleTimer.unref()
    } else conn.idleTimer.refresh()
    this.#idle.push(conn)
  }

  /** Closes idle connections now and busy ones as they are released. */
  close (): void {
    this.#closed = true
    for (const conn of this.#idle.splice(0)) {
      clearTimeout(conn.idleTimer)
      conn.socket.destroy()
    }
  }

  /** Closes every connection now, busy ones included (their requests fail). */
  destroy (): void {
    this.close()
    for (const conn of this.#busy) conn.socket.destroy()
    this.#busy.clear()
  }

  #drop (conn: FastCgiConnection): void {
    const index = this.#idle.indexOf(conn)
    if (index !== -1) this.#idle.splice(index, 1)
    clearTimeout(conn.idleTimer)
    conn.socket.destroy()
  }

  #connect (signal: AbortSignal): Promise<FastCgiConnection> {
    const { address, label, connectTimeoutMs } = this.#options
    return new Promise((resolve, reject) => {
      signal.throwIfAborted()
      const socket = connect(address)
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        socket.off('error', onError)
        socket.off('connect', onConnect)
      }
      const onConnect = (): void => {
        done()
        if (this.#closed) {
          socket.destroy()
          return reject(new GatewayError('WG_ERR_RUNTIME_CLOSED', 'fastcgi runtime closed while connecting'))
        }
        if ('host' in address) socket.setNoDelay(true)
        const conn: FastCgiConnection = { socket, served: 0, idleTimer: undefined, user: undefined }
        // Set once, for the connection's life; its current request (`user`) hears them. Bytes with no
        // request on the connection are a backend breaking the protocol: the connection is closed.
        socket.on('data', (chunk: Buffer) => conn.user === undefined ? socket.destroy() : conn.user.onData(chunk))
        // Idle or busy, a connection must never throw an unhandled 'error'.
        socket.on('error', (error: Error) => conn.user?.onClosed(error))
        socket.once('end', () => conn.user?.onClosed())
        socket.once('close', () => {
          conn.user?.onClosed()
          this.#drop(conn)
        })
        this.#opened++
        this.#busy.add(conn)
        resolve(conn)
      }
      const onError = (error: NodeJS.ErrnoException): void => {
        done()
        socket.destroy()
        const why = error.code !== undefined && UNREACHABLE.has(error.code) ? `${error.code}` : error.message
        reject(new GatewayError('WG_ERR_FASTCGI_UNAVAILABLE', `cannot connect to the FastCGI backend ${label}: ${why}`, { cause: error }))
      }
      const onAbort = (): void => {
        done()
        socket.destroy()
        reject(signal.reason)
      }
      const timer = setTimeout(() => {
        done()
        socket.destroy()
        reject(new GatewayError('WG_ERR_FASTCGI_UNAVAILABLE', `connecting to the FastCGI backend ${label} took longer than ${connectTimeoutMs} ms`))
      }, connectTimeoutMs)
      socket.once('connect', onConnect)
      socket.once('error', onError)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
