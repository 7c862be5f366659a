import { parseListenAddress } from '../config/listen-address.ts'
import { loadConfigFile } from '../config/load.ts'
import { createGateway, type ListeningInfo } from '../gateway/gateway.ts'
import { fixYoungGeneration } from './heap.ts'
import { VERSION } from '../version.ts'
import { closeOnStopSignals, formatRoutes, keepServingOnStrayErrors, parseServeArgs } from './serve.ts'

export { formatRoutes } from './serve.ts'

export async function run (argv: string[]): Promise<void> {
  const options = parseServeArgs(argv, 'start')
  if (options.processes !== 1) {
    // server.processes decides without --processes. The import is cached: createGateway below reuses it.
    const config = await loadConfigFile(options.config, { mode: options.mode })
    const processes = options.processes ?? config.server.processes
    if (processes > 1) {
      // A unix socket has one listener: N processes cannot share it the way SO_REUSEPORT shares a port.
      const fastcgi = options.fastcgi === undefined ? config.server.fastcgi?.listen : parseListenAddress(options.fastcgi)
      if (fastcgi?.kind === 'unix') {
        process.stderr.write(`warmgate: --processes ${processes} cannot share the FastCGI unix socket ${fastcgi.path}; give server.fastcgi.listen (or --fastcgi) a TCP address such as 127.0.0.1:9000, or run one process\n`)
        process.exit(1)
      }
      const { Supervisor } = await import('../cluster/supervisor.ts')
      const supervisor = new Supervisor({ processes, serve: options, port: options.port ?? config.server.port, shutdownTimeoutMs: config.server.shutdownTimeoutMs })
      return supervisor.start()
    }
  }
  fixYoungGeneration()
  // The port opens first: readiness says "starting" and app requests wait while the pools prewarm (README "Health and metrics").
  const gateway = await createGateway({ configFile: options.config }, { mode: options.mode, logLevel: options.logLevel, listen: { port: options.port, host: options.host, fastcgi: options.fastcgi } })
  const { url, fastcgi } = gateway.listening as ListeningInfo
  keepServingOnStrayErrors(gateway)
  const stopping = closeOnStopSignals(gateway)
  // A failed reload leaves the previous version serving: say so, never exit. Signals that arrive while a
  // reload runs share one more reload after it (gateway.reload), so the last edit is always picked up.
  process.on('SIGHUP', () => {
    if (stopping()) return
    process.stdout.write('warmgate: SIGHUP, reloading\n')
    gateway.reload().then(() => {
      process.stdout.write(`warmgate: reloaded\n${formatRoutes(gateway.routes())}\n`)
    }, (error: unknown) => {
      const cause = (error as Error).cause
      const why = cause instanceof Error ? cause.message : (error as Error).message
      process.stderr.write(`warmgate: reload failed, still serving the previous version:\n  ${why.split('\n').join('\n  ')}\n`)
    })
  })
  // Only now: a supervisor that signals as soon as it reads this line must find the handlers in place.
  const also = fastcgi === undefined ? '' : `, FastCGI on ${fastcgi}`
  process.stdout.write(`warmgate ${VERSION} listening on ${url}${also}\n${formatRoutes(gateway.routes())}\n`)
}
