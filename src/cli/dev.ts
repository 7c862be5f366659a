import { findConfigFile } from '../config/load.ts'
import { installDevRoutes } from '../dev/dev-routes.ts'
import { enableReloadGc, serveLoadFailures, watchGateway, type DevOutput } from '../dev/dev-server.ts'
import { LiveReload, setLiveReload } from '../dev/live-reload.ts'
import { createGateway } from '../gateway/gateway.ts'
import { createLogger } from '../log/logger.ts'
import { VERSION } from '../version.ts'
import { fixYoungGeneration } from './heap.ts'
import { closeOnStopSignals, formatRoutes, keepServingOnStrayErrors, parseServeArgs } from './serve.ts'

/**
 * `warmgate dev`: serves like `start`, and reloads an app when one of its files is saved. An app that
 * does not load (now or at start-up) is served by an error page until it does; so is a handler's error
 * at run time. Those pages, and the route list at `/`, reload in the browser after a save.
 */
export async function run (argv: string[]): Promise<void> {
  const options = parseServeArgs(argv, 'dev')
  fixYoungGeneration()
  enableReloadGc()
  const tty = process.stdout.isTTY === true
  // Readable lines in a terminal and in a pipe alike; colours only in a terminal.
  const logger = await createLogger({ level: options.logLevel, pretty: true, color: tty })
  const paint = (code: string, text: string): string => tty ? `\x1b[${code}m${text}\x1b[0m` : text
  const out: DevOutput = {
    info: (line) => process.stdout.write(`${paint('32', line)}\n`),
    error: (line) => process.stderr.write(`${paint('31', line)}\n`),
    reloaded: () => process.stdout.write(`${formatRoutes(gateway.routes())}\n`),
  }
  const gateway = await createGateway({ configFile: options.config }, {
    mode: options.mode,
    logger,
    exposeErrors: true,
    inlineInThread: true,
    serverTiming: true,
    onLoadFailure: serveLoadFailures(out),
  })
  const { url, fastcgi } = await gateway.listen({ port: options.port, host: options.host, fastcgi: options.fastcgi })
  const live = new LiveReload(() => gateway.config.server.ops.adminPrefix)
  setLiveReload(live)
  installDevRoutes(gateway, live)
  keepServingOnStrayErrors(gateway)
  const configFile = gateway.config.configFile ?? findConfigFile()
  const watcher = watchGateway(gateway, configFile, out, { mode: options.mode, live })
  closeOnStopSignals(gateway, () => watcher.close())
  const also = fastcgi === undefined ? '' : `, FastCGI on ${fastcgi}`
  process.stdout.write(`warmgate ${VERSION} dev listening on ${url}${also}, watching for changes\n${formatRoutes(gateway.routes())}\n`)
}
