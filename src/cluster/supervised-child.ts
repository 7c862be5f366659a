// One gateway process of `warmgate start --processes N`: forked by the supervisor (src/cluster/supervisor.ts)
// with an IPC channel, started with the same options as `warmgate start`. It tells the supervisor when it
// is ready (listening, every pool prewarmed) and drains when told to stop or when the supervisor is gone.
import { createGateway, type Gateway } from '../gateway/gateway.ts'
import { BALANCER_ENV, type Balancer, type ChildMessage } from '../protocol/supervisor-messages.ts'
import { fixYoungGeneration } from '../cli/heap.ts'
import { keepServingOnStrayErrors, parseServeArgs } from '../cli/serve.ts'

/**
 * Tests only: behave like a platform whose kernel refuses SO_REUSEPORT (listen fails with ENOTSUP), so
 * the supervisor's fallback to node:cluster can be exercised on Linux.
 */
export const TEST_NO_REUSEPORT_ENV = 'WARMGATE_TEST_NO_REUSEPORT'

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
    gateway.close().then(() => process.exit(0), (error: unknown) => {
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
    listening = await gateway.listen({ port: options.port, host: options.host, reusePort: balancer === 'reuseport' })
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
