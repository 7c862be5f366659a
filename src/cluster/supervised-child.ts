// One gateway process of `warmgate start --processes N`: forked by the supervisor (src/cluster/supervisor.ts)
// with an IPC channel, started with the same options as `warmgate start`. It tells the supervisor when it
// is ready (listening, every pool prewarmed) and drains when told to stop or when the supervisor is gone.
import { Server } from 'node:net'
import { createGateway, type Gateway, listeningServerOf } from '../gateway/gateway.ts'
import { BALANCER_ENV, type Balancer, type ChildMessage, type Handoff, INHERIT_SOCKET_ENV, isHandoff, isHandoffRequest } from '../protocol/supervisor-messages.ts'
import { fixYoungGeneration } from '../cli/heap.ts'
import { keepServingOnStrayErrors, parseServeArgs } from '../cli/serve.ts'

/**
 * Tests only: behave like a platform whose kernel refuses SO_REUSEPORT (listen fails with ENOTSUP), so
 * the supervisor's fallback to node:cluster can be exercised on Linux.
 */
export const TEST_NO_REUSEPORT_ENV = 'WARMGATE_TEST_NO_REUSEPORT'

/**
 * How long a process that stopped accepting keeps serving the connections it had already accepted before
 * it drains. A connection the kernel handed over just before the listening socket closed carries its
 * first request a moment later; closing it as idle (what http's server.close() does at once) would reset
 * it, and a request reaching apps that already close would get a 503. Over loopback or a LAN a request
 * follows its connection within a millisecond or so; 250 ms is ample and short next to any drain.
 */
const LINGER_MS = 250

/** Closes only the listening socket (new connections go to the other processes), then waits LINGER_MS. */
async function stopAccepting (gateway: Gateway): Promise<void> {
  const server = listeningServerOf(gateway)
  if (server === undefined) return
  // net.Server's close, not http.Server's: the latter also closes idle connections at once (Node >= 19).
  Server.prototype.close.call(server)
  await new Promise(resolve => setTimeout(resolve, LINGER_MS))
}

/** The listening socket the supervisor hands over on SIGHUP; undefined if none comes within 10 s (then bind). */
async function receiveSocket (): Promise<object | undefined> {
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(undefined), 10_000)
    process.on('message', (message, handle) => {
      if (!isHandoff(message) || typeof handle !== 'object' || handle === null) return
      clearTimeout(timer)
      resolve(handle)
    })
  })
}

function send (message: ChildMessage): void {
  process.send?.(message)
}

async function main (argv: string[]): Promise<void> {
  const balancer = process.env[BALANCER_ENV] as Balancer
  const options = parseServeArgs(argv, 'start')
  fixYoungGeneration()
  // Before anything slow: a supervisor that signals or goes away during start-up must not leave us behind.
  let gateway: Gateway | undefined
  let stopping = false
  const stop = (why: string): void => {
    if (stopping) return // the supervisor escalates to SIGKILL when a drain takes too long
    stopping = true
    if (gateway === undefined) process.exit(0)
    process.stdout.write(`warmgate[${process.pid}]: ${why}, closing\n`)
    stopAccepting(gateway).then(async () => gateway?.close()).then(() => process.exit(0), (error: unknown) => {
      process.stderr.write(`warmgate[${process.pid}]: close failed: ${(error as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  // Ctrl-C reaches the whole process group; the supervisor sends SIGTERM as well: one drain for both.
  process.on('SIGINT', () => stop('SIGINT'))
  // The supervisor replaces processes on SIGHUP; a SIGHUP sent to the group must not end this one.
  process.on('SIGHUP', () => {})
  // The IPC channel closes when the supervisor exits, even on SIGKILL: never outlive it.
  process.on('disconnect', () => stop('supervisor gone'))

  // Listeners first: the supervisor may send the socket to inherit before the apps have started.
  const inherited = process.env[INHERIT_SOCKET_ENV] === '1' ? receiveSocket() : undefined
  process.on('message', (message) => {
    const server = gateway === undefined ? undefined : listeningServerOf(gateway)
    // The raw TCP handle, not the net.Server: sent as is, the supervisor does not start accepting on it.
    const handle = (server as unknown as { _handle?: object } | undefined)?._handle
    if (isHandoffRequest(message) && handle !== undefined) process.send?.({ type: 'warmgate:handoff' } satisfies Handoff, handle as never)
  })

  gateway = await createGateway({ configFile: options.config }, { mode: options.mode, logLevel: options.logLevel })
  if (stopping) {
    await gateway.close()
    process.exit(0)
  }
  keepServingOnStrayErrors(gateway)
  let listening: { url: string, port: number }
  try {
    if (balancer === 'reuseport' && process.env[TEST_NO_REUSEPORT_ENV] === '1') {
      throw Object.assign(new Error('listen ENOTSUP (forced by WARMGATE_TEST_NO_REUSEPORT)'), { cause: { code: 'ENOTSUP' } })
    }
    const socket = await inherited
    listening = socket !== undefined
      ? await gateway.listen({ handle: socket, reusePort: balancer === 'reuseport' })
      : await gateway.listen({ port: options.port, host: options.host, reusePort: balancer === 'reuseport' })
  } catch (error) {
    const errno = ((error as Error).cause as { code?: string } | undefined)?.code ?? 'UNKNOWN'
    send({ type: 'warmgate:listen-failed', errno, message: (error as Error).message })
    await gateway.close()
    process.exit(1)
  }
  send({ type: 'warmgate:ready', pid: process.pid, url: listening.url, port: listening.port, routes: gateway.routes() })
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string' && code.startsWith('WG_ERR_')) process.stderr.write(`warmgate: ${(error as Error).message}\n`)
  else console.error(error)
  process.exit(1)
})
