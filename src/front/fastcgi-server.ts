import { rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { formatListenAddress, type ListenAddress } from '../config/listen-address.ts'
import { GatewayError } from '../errors.ts'
import { FastCgiConnection, type ResponderContext } from './fastcgi-connection.ts'

/** Counts for `gateway.fastcgiStats()`: how nginx's keepalive shows (accepted connections vs requests). */
export interface FastCgiStats {
  /** Where the responder listens (`127.0.0.1:9000`, `unix:/run/warmgate.sock`). */
  readonly address: string
  /** Connections accepted since it started. */
  readonly accepted: number
  /** Connections open now. */
  readonly open: number
  /** Requests that ended (answered, refused or aborted). */
  readonly requests: number
}

/**
 * The FastCGI responder's listening socket (TCP or unix domain) and its connections: the front door for
 * nginx `fastcgi_pass` and lighttpd `mod_fastcgi`, beside the HTTP listener.
 */
export class FastCgiServer {
  readonly #context: ResponderContext
  readonly #connections = new Set<FastCgiConnection>()
  #server: Server | undefined
  #closed: Promise<void> | undefined
  #address = ''
  #accepted = 0
  #requests = 0

  constructor (context: ResponderContext) {
    this.#context = context
  }

  /** Listens; resolves with the address as users write it (the bound port when 0 was asked for). */
  async listen (address: ListenAddress, reusePort = false): Promise<string> {
    const server = createServer({ noDelay: true }, this.#onConnection)
    this.#server = server
    try {
      await bind(server, address, reusePort)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'EADDRINUSE' || address.kind !== 'unix' || await isAlive(address.path)) {
        this.#server = undefined
        throw new GatewayError('WG_ERR_LISTEN', `cannot listen for FastCGI on ${formatListenAddress(address)}: ${code ?? (error as Error).message}`, { cause: error })
      }
      // A socket file left by a process that is gone (killed, no close): nobody answers on it, so it is ours to replace.
      rmSync(address.path, { force: true })
      await bind(server, address, reusePort)
    }
    const bound = server.address()
    this.#address = typeof bound === 'object' && bound !== null
      ? formatListenAddress({ kind: 'tcp', host: bound.address, port: bound.port })
      : formatListenAddress(address)
    return this.#address
  }

  stats (): FastCgiStats {
    return { address: this.#address, accepted: this.#accepted, open: this.#connections.size, requests: this.#requests }
  }

  /** Stops accepting; resolves once every connection has closed. Idempotent. */
  stopAccepting (): Promise<void> {
    const server = this.#server
    this.#closed ??= server === undefined ? Promise.resolve() : new Promise<void>(resolve => server.close(() => resolve()))
    return this.#closed
  }

  /** Ends idle connections now, busy ones after their request (the gateway is closing). */
  closeIdle (): void {
    for (const connection of this.#connections) connection.closeWhenIdle()
  }

  /** Destroys every connection (the shutdown grace is over). */
  destroyAll (): void {
    for (const connection of this.#connections) connection.socket.destroy()
  }

  #onConnection = (socket: Socket): void => {
    this.#accepted++
    // One over the cap is still read, so that its BEGIN_REQUEST gets a proper OVERLOADED (§5.5).
    const overloaded = this.#connections.size >= this.#context.maxConnections
    const connection = new FastCgiConnection(socket, this.#context, overloaded)
    connection.onRequestDone = () => { this.#requests++ }
    this.#connections.add(connection)
    socket.once('close', () => this.#connections.delete(connection))
    if (this.#closed !== undefined) connection.closeWhenIdle()
  }
}

function bind (server: Server, address: ListenAddress, reusePort: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error)
    server.once('error', onError)
    const done = (): void => {
      server.off('error', onError)
      resolve()
    }
    if (address.kind === 'unix') server.listen({ path: address.path }, done)
    else server.listen({ host: address.host, port: address.port, reusePort }, done)
  })
}

/** Whether something accepts connections on a unix socket path (then it is in use, not stale). */
function isAlive (path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path })
    const timer = setTimeout(() => finish(true), 1000)
    const finish = (alive: boolean): void => {
      clearTimeout(timer)
      probe.destroy()
      resolve(alive)
    }
    probe.once('connect', () => finish(true))
    probe.once('error', (error: NodeJS.ErrnoException) => finish(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'))
  })
}
