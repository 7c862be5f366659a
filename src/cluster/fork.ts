// Starts one supervised gateway process, with either balancer, behind one small interface.
import { type ChildProcess, fork } from 'node:child_process'
import cluster from 'node:cluster'
import { siblingModule } from '../module-file.ts'
import { BALANCER_ENV, type Balancer, type ChildMessage, isChildMessage } from '../protocol/supervisor-messages.ts'

const CHILD_ENTRY = siblingModule(import.meta.url, 'supervised-child')

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface GatewayProcess {
  readonly pid: number
  /** Settles when the process has exited. Never rejects. */
  readonly exited: Promise<Exit>
  /** The first of: its ready or listen-failed message, or its exit. Never rejects. */
  readonly outcome: Promise<ChildMessage | Exit>
  readonly alive: () => boolean
  kill (signal: NodeJS.Signals): void
  /** Sends over the IPC channel, with a socket handle when given; false if the channel is closed. */
  send (message: object, handle?: object): boolean
  /** Every message it sends, with the handle that came with it. */
  onMessage (listener: (message: unknown, handle: unknown) => void): void
}

/**
 * Forks `src/cluster/supervised-child.ts` with `args` (the `warmgate start` options). `reuseport`: a plain
 * child process that listens itself (SO_REUSEPORT). `cluster`: a node:cluster worker, whose listen() the
 * primary (this process) serves: it holds the socket and hands connections to the workers in turn.
 */
export function forkGatewayProcess (balancer: Balancer, args: string[], extraEnv: NodeJS.ProcessEnv = {}): GatewayProcess {
  const env = { ...process.env, ...extraEnv, [BALANCER_ENV]: balancer }
  let child: ChildProcess
  let onMessage: (listener: (message: unknown, handle: unknown) => void) => void
  if (balancer === 'cluster') {
    cluster.setupPrimary({ exec: CHILD_ENTRY, args, execArgv: process.execArgv, silent: false })
    const worker = cluster.fork(env)
    child = worker.process
    onMessage = listener => worker.on('message', (message, handle) => listener(message, handle))
  } else {
    const forked = fork(CHILD_ENTRY, args, { env, execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child = forked
    onMessage = listener => forked.on('message', (message, handle) => listener(message, handle))
  }
  const exited = new Promise<Exit>(resolve => {
    // 'error' here means the fork itself failed (no pid): report it as an exit, the supervisor backs off.
    child.once('error', () => { if (child.pid === undefined) resolve({ code: 1, signal: null }) })
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const outcome = new Promise<ChildMessage | Exit>(resolve => {
    onMessage(message => { if (isChildMessage(message)) resolve(message) })
    void exited.then(resolve)
  })
  return {
    pid: child.pid ?? -1,
    exited,
    outcome,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: (signal) => { if (child.exitCode === null && child.signalCode === null) child.kill(signal) },
    send: (message, handle) => {
      if (child.connected !== true) return false
      // A raw handle (not a net.Server) is passed as is: the receiver does not start accepting on it.
      // The callback keeps a send to a process that just exited from becoming an 'error' event; the caller
      // learns of that exit from `exited`.
      return child.send(message, handle as never, () => {})
    },
    onMessage,
  }
}

/** `code 1` or `signal SIGKILL`, for log lines. */
export function describeExit (exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${String(exit.code)}`
}
