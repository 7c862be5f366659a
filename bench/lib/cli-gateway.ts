// The gateway as the `warmgate` CLI runs it, from a config file (bench/cgi.ts): the CLI is what users
// start, and it sets the process-wide heap option (src/cli/heap.ts) that bench/lib/serve.ts copies.
// Prints "warmgate VERSION listening on URL" once ready; pino's JSON lines (at the chosen level) and the CLI's
// own messages are kept.
import { spawn } from 'node:child_process'
import { assertBuilt, BUILT_CLI } from './built.ts'
import { eachLine, stopChild, track } from './children.ts'


/** The built package's CLI, as users run it (built.ts). */
const CLI = BUILT_CLI

export interface Server { url: string, pid: number, logLines: () => string[], stop: () => Promise<void> }

/** The gateway as the `warmgate` CLI runs it: `warmgate start --config FILE --host 127.0.0.1 --port 0`. */
export async function startCliGateway (options: { node: string, config: string, logLevel: string, env: Record<string, string | undefined>, args?: string[] }, timeoutMs = 30_000): Promise<Server> {
  assertBuilt()
  const args = [CLI, 'start', '--config', options.config, '--host', '127.0.0.1', '--port', '0', '--log-level', options.logLevel, ...(options.args ?? [])]
  const child = track(spawn(options.node, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env }))
  const lines: string[] = []
  let stopping = false
  // pino's JSON lines and the CLI's own ("warmgate: SIGTERM, closing"): a signal that did not come from
  // stop() shows in the report.
  const keep = (line: string): boolean => lines.length < 1000 &&
    (line.startsWith('{') || (line.startsWith('warmgate:') && !(stopping && line.startsWith('warmgate: SIGTERM'))))
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-64 * 1024) })
  const logLines = (): string[] => [...lines, ...stderr.trim().split('\n').filter(Boolean).map(line => `stderr: ${line}`)]
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let url: string | undefined
      const fail = (error: Error): void => {
        clearTimeout(timer)
        reject(error)
      }
      const timer = setTimeout(() => fail(new Error(`gateway did not start within ${timeoutMs} ms`)), timeoutMs)
      eachLine(child.stdout, (line) => {
        const ready = /^warmgate (?:\S+ )?listening on (http:\/\/\S+)/.exec(line)
        if (ready !== null && url === undefined) {
          url = ready[1]
          clearTimeout(timer)
          resolve(url)
        } else if (keep(line)) lines.push(line)
      })
      child.once('error', fail)
      child.once('exit', (code, signal) => fail(new Error(`gateway exited during start-up (code ${code}, signal ${signal})`)))
    })
    if (!url.startsWith('http://127.0.0.1:')) throw new Error(`gateway listens on ${url}, expected 127.0.0.1`)
    return { url, pid: child.pid as number, logLines, stop: async () => {
      stopping = true
      await stopChild(child, 10_000)
    } }
  } catch (error) {
    await stopChild(child, 2000)
    throw new Error(`${(error as Error).message}${stderr.trim() === '' ? '' : `\n--- gateway stderr ---\n${stderr.trim().slice(-4000)}`}`)
  }
}
