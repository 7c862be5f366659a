// Parent side of serve.ts: starts the gateway for one app in one mode and follows its stats lines.
import { spawn } from 'node:child_process'
import { siblingModule } from '../module-file.ts'
import { GatewayError } from '../errors.ts'
import { eachLine, stopChild, track } from './children.ts'
import { READY_KEY, STATS_KEY } from './child-lines.ts'

const SERVE = siblingModule(import.meta.url, 'serve')
const START_TIMEOUT_MS = 30_000

export interface GatewayChild {
  url: string
  pid: number
  /** Live workers (warm) or processes (cold, cgi) at the last stats line. */
  workers: number
  /** Requests the gateway has answered so far (its own counter, every 250 ms). */
  completed: number
  /** Up to 20 lines it logged (pino at level error) or wrote to stderr. */
  logLines: string[]
  stop: () => Promise<void>
}

export async function startGatewayChild (spec: { app: string, mode: string, config?: string }): Promise<GatewayChild> {
  const args = [SERVE, '--app', spec.app, '--mode', spec.mode]
  if (spec.config !== undefined) args.push('--config', spec.config)
  // stdin stays a pipe held open: serve.ts exits when it closes, even if this process is SIGKILLed.
  const child = track(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }))
  const logLines: string[] = []
  const keep = (line: string): void => {
    if (line.trim() !== '' && logLines.length < 20) logLines.push(line)
  }
  eachLine(child.stderr, keep)
  const state: GatewayChild = { url: '', pid: child.pid ?? 0, workers: 0, completed: 0, logLines, stop: async () => stopChild(child) }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not report ready within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
      eachLine(child.stdout, (line) => {
        if (line.startsWith(`{"${STATS_KEY}"`)) {
          const stats = (JSON.parse(line) as Record<string, { completed: number, workers: number }>)[STATS_KEY]
          state.completed = stats.completed
          state.workers = stats.workers
        } else if (line.startsWith(`{"${READY_KEY}"`)) {
          const ready = (JSON.parse(line) as Record<string, { url: string, workers: number }>)[READY_KEY]
          state.url = ready.url
          state.workers = ready.workers
          clearTimeout(timer)
          resolve()
        } else {
          keep(line)
        }
      })
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`exited during start-up (code ${code}, signal ${signal})`))
      })
    })
  } catch (error) {
    await stopChild(child, 2000)
    const log = logLines.length === 0 ? '' : `:\n  ${logLines.join('\n  ')}`
    throw new GatewayError('WG_ERR_BENCH_FAILED', `bench: the gateway for app '${spec.app}' in mode ${spec.mode} ${(error as Error).message}${log}`, { cause: error })
  }
  return state
}
