// `warmgate start --processes N` (N > 1): this process supervises N gateway processes on one port. It
// is never in the data path with SO_REUSEPORT (the kernel spreads connections over the processes'
// sockets); with the node:cluster fallback it holds the socket and hands accepted connections over.
import { readFileSync } from 'node:fs'
import type { ServeOptions } from '../cli/serve.ts'
import { formatRoutes, SAME_SIGNAL_MS } from '../cli/serve.ts'
import { VERSION } from '../version.ts'
import { type Balancer, type ChildMessage, type Handoff, type HandoffRequest, INHERIT_SOCKET_ENV, isHandoff, type ReadyMessage } from '../protocol/supervisor-messages.ts'
import { describeExit, type Exit, forkGatewayProcess, type GatewayProcess } from './fork.ts'

export interface SupervisorOptions {
  processes: number
  serve: ServeOptions
  /** The port the config or --port asks for (0: any free one, then the same one for every process). */
  port: number
  /** `server.shutdownTimeout`: how long a process may drain before it is killed. */
  shutdownTimeoutMs: number
  /** How long a new process may take to listen and prewarm its pools. Default 60 s. */
  startTimeoutMs?: number
}

/** A crash loop waits 100 ms, 200 ms, … up to this between restarts. */
const MAX_BACKOFF_MS = 10_000
/** A process that served this long before dying starts the back-off again from its first step. */
const STABLE_MS = 10_000
/** On top of shutdownTimeout: a draining process also closes its pools and connections. */
const KILL_MARGIN_MS = 5000
/** errno values of a listen(reusePort) that the platform does not support: use node:cluster instead. */
const NO_REUSEPORT = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EINVAL'])
/** How long a process has to hand over its listening socket on SIGHUP. */
const HANDOFF_MS = 5000

interface Slot {
  proc: GatewayProcess | undefined
  failures: number
  readyAt: number
  restartTimer: NodeJS.Timeout | undefined
}

function say (line: string): void {
  process.stdout.write(`warmgate: ${line}\n`)
}

function complain (line: string): void {
  process.stderr.write(`warmgate: ${line}\n`)
}

export class Supervisor {
  readonly #options: Required<SupervisorOptions>
  readonly #slots: Slot[] = []
  /** Every process started and not yet exited, including one that replaces another. */
  readonly #live = new Set<GatewayProcess>()
  #balancer: Balancer = process.platform === 'linux' ? 'reuseport' : 'cluster'
  #port = 0
  #stopping = false
  #stoppedAt = 0
  #replacing: Promise<void> | undefined
  #replaceAgain = false

  constructor (options: SupervisorOptions) {
    this.#options = { startTimeoutMs: 60_000, ...options }
    this.#port = options.port
  }

  /** Starts every process; resolves once all are ready, or exits the process with code 1 if one cannot start. */
  async start (): Promise<void> {
    // Whatever ends this process, its gateway processes go with it (SIGKILL reaches them through the closed IPC channel).
    process.on('exit', () => { for (const proc of this.#live) proc.kill('SIGKILL') })
    process.on('SIGTERM', () => this.#stop('SIGTERM'))
    process.on('SIGINT', () => this.#stop('SIGINT'))
    process.on('SIGHUP', () => this.#replaceAll())
    let first = await this.#launch()
    const failed = first.outcome
    if ('type' in failed && failed.type === 'warmgate:listen-failed' && this.#balancer === 'reuseport' && NO_REUSEPORT.has(failed.errno)) {
      say(`SO_REUSEPORT is not available here (listen: ${failed.errno}); falling back to node:cluster`)
      this.#balancer = 'cluster'
      first = await this.#launch()
    }
    if (this.#stopping) return
    if (!isReady(first.outcome)) this.#startFailed(first.outcome)
    // reuseport: every process binds the port the first one got. cluster: each asks the primary for the
    // same address as the first did (the primary keys its shared socket by the requested port, 0 included).
    if (this.#balancer === 'reuseport') this.#port = first.outcome.port
    const rest = await Promise.all(Array.from({ length: this.#options.processes - 1 }, async () => this.#launch()))
    if (this.#stopping) return
    for (const other of rest) if (!isReady(other.outcome)) this.#startFailed(other.outcome)
    for (const launched of [first, ...rest]) this.#slots.push({ proc: launched.proc, failures: 0, readyAt: performance.now(), restartTimer: undefined })
    this.#slots.forEach((slot, index) => this.#watch(slot, index))
    const pids = this.#slots.map(slot => slot.proc?.pid).join(', ')
    say(`${this.#options.processes} processes (pids ${pids}), connections balanced by ${this.#balancer === 'reuseport' ? 'the kernel (SO_REUSEPORT)' : 'node:cluster'}`)
    if (this.#balancer === 'reuseport' && migrateSetting() === '0') {
      say('note: net.ipv4.tcp_migrate_req is 0, so connections queued for a process that dies are reset; 1 moves them to another process (docs/operations.md, Several processes)')
    }
    // Last: a caller that signals as soon as it reads this line must find the handlers in place.
    process.stdout.write(`warmgate ${VERSION} listening on ${first.outcome.url}\n${formatRoutes(first.outcome.routes)}\n`)
  }

  /**
   * Forks one process and waits for its first word: ready, listen failed, or exit (bounded by
   * startTimeoutMs). With `socket`, the process accepts from that listening socket instead of binding one.
   */
  async #launch (socket?: object): Promise<{ proc: GatewayProcess, outcome: ChildMessage | Exit }> {
    const proc = forkGatewayProcess(this.#balancer, this.#args(), socket === undefined ? {} : { [INHERIT_SOCKET_ENV]: '1' })
    if (socket !== undefined) proc.send({ type: 'warmgate:handoff' } satisfies Handoff, socket)
    this.#live.add(proc)
    void proc.exited.then(() => this.#live.delete(proc))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<Exit>(resolve => {
      timer = setTimeout(() => {
        complain(`process ${proc.pid} was not ready after ${this.#options.startTimeoutMs} ms; killing it`)
        proc.kill('SIGKILL')
        void proc.exited.then(resolve)
      }, this.#options.startTimeoutMs)
    })
    const outcome = await Promise.race([proc.outcome, late])
    clearTimeout(timer)
    // The new process holds its own copy of the socket now (or is gone): this process must not keep it open.
    ;(socket as { close?: () => void } | undefined)?.close?.()
    // After a failed listen it exits: wait, so that a fallback or a retry never overlaps it.
    if ('type' in outcome && !isReady(outcome)) await proc.exited
    return { proc, outcome }
  }

  #args (): string[] {
    const { config, host, mode, logLevel } = this.#options.serve
    const args = ['--port', String(this.#port)]
    if (config !== undefined) args.push('--config', config)
    if (host !== undefined) args.push('--host', host)
    if (mode !== undefined) args.push('--mode', mode)
    if (logLevel !== undefined) args.push('--log-level', logLevel)
    return args
  }

  #startFailed (outcome: ChildMessage | Exit): never {
    const why = 'type' in outcome ? outcome.type === 'warmgate:listen-failed' ? outcome.message : 'unexpected message' : `exited with ${describeExit(outcome)}`
    complain(`a gateway process failed to start (${why}); stopping`)
    for (const proc of this.#live) proc.kill('SIGKILL')
    process.exit(1)
  }

  /** Restarts the slot's process when it dies on its own (not stopped, not replaced), with a back-off. */
  #watch (slot: Slot, index: number): void {
    const proc = slot.proc
    if (proc === undefined) return
    void proc.exited.then(exit => {
      if (this.#stopping || slot.proc !== proc) return
      slot.proc = undefined
      if (performance.now() - slot.readyAt >= STABLE_MS) slot.failures = 0
      const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** slot.failures)
      slot.failures++
      complain(`process ${proc.pid} (#${index + 1}) exited with ${describeExit(exit)}; restarting in ${delay} ms (restart ${slot.failures} in a row)`)
      slot.restartTimer = setTimeout(() => { void this.#restart(slot, index) }, delay)
    })
  }

  async #restart (slot: Slot, index: number): Promise<void> {
    slot.restartTimer = undefined
    if (this.#stopping) return
    const launched = await this.#launch()
    if (this.#stopping) {
      launched.proc.kill('SIGTERM')
      return
    }
    slot.proc = launched.proc
    if (isReady(launched.outcome)) {
      slot.readyAt = performance.now()
      say(`process ${launched.proc.pid} (#${index + 1}) ready`)
      this.#watch(slot, index)
      return
    }
    // Failed before it was ready: counts as one more crash, and waits longer.
    slot.readyAt = 0
    launched.proc.kill('SIGKILL')
    this.#watch(slot, index)
  }

  /** SIGHUP: one slot after another, start a new process, wait until it is ready, then drain the old one. */
  #replaceAll (): void {
    if (this.#stopping) return
    if (this.#slots.length === 0) {
      complain('SIGHUP while starting: ignored (the processes starting now already read the current config)')
      return
    }
    if (this.#replacing !== undefined) {
      this.#replaceAgain = true
      return
    }
    say('SIGHUP, replacing the processes one after another')
    this.#replacing = this.#replaceSlots().finally(() => {
      this.#replacing = undefined
      if (this.#replaceAgain && !this.#stopping) {
        this.#replaceAgain = false
        this.#replaceAll()
      }
    })
  }

  async #replaceSlots (): Promise<void> {
    let routes: ReadyMessage['routes'] = []
    let handedOver = 0
    for (const [index, slot] of this.#slots.entries()) {
      if (this.#stopping) return
      const socket = slot.proc === undefined ? undefined : await this.#takeSocket(slot.proc)
      const launched = await this.#launch(socket)
      if (socket !== undefined) handedOver++
      if (this.#stopping) {
        launched.proc.kill('SIGTERM')
        return
      }
      if (!isReady(launched.outcome)) {
        complain(`reload failed: a new process did not start (${'type' in launched.outcome ? launched.outcome.message : describeExit(launched.outcome)}); the others keep the previous version`)
        launched.proc.kill('SIGKILL')
        return
      }
      routes = launched.outcome.routes
      const old = slot.proc
      clearTimeout(slot.restartTimer)
      slot.restartTimer = undefined
      slot.proc = launched.proc
      slot.readyAt = performance.now()
      slot.failures = 0
      this.#watch(slot, index)
      if (old !== undefined) await this.#drain(old)
    }
    say(`reloaded: pids ${this.#slots.map(slot => slot.proc?.pid).join(', ')} (listening sockets handed over: ${handedOver})\n${formatRoutes(routes)}`)
  }

  /**
   * Asks a process for its listening socket (SO_REUSEPORT only; with node:cluster this process holds the
   * socket). Undefined when it does not answer within HANDOFF_MS: its successor then binds its own.
   */
  async #takeSocket (proc: GatewayProcess): Promise<object | undefined> {
    if (this.#balancer !== 'reuseport' || !proc.alive()) return undefined
    return new Promise(resolve => {
      const timer = setTimeout(() => resolve(undefined), HANDOFF_MS)
      const done = (socket: object | undefined): void => {
        clearTimeout(timer)
        resolve(socket)
      }
      proc.onMessage((message, handle) => { if (isHandoff(message) && typeof handle === 'object' && handle !== null) done(handle) })
      void proc.exited.then(() => done(undefined))
      if (!proc.send({ type: 'warmgate:handoff-request' } satisfies HandoffRequest)) done(undefined)
    })
  }

  /** SIGTERM, then SIGKILL if it has not exited after shutdownTimeout and a margin. */
  async #drain (proc: GatewayProcess): Promise<void> {
    proc.kill('SIGTERM')
    const timer = setTimeout(() => {
      complain(`process ${proc.pid} still running ${this.#options.shutdownTimeoutMs + KILL_MARGIN_MS} ms after SIGTERM; killing it`)
      proc.kill('SIGKILL')
    }, this.#options.shutdownTimeoutMs + KILL_MARGIN_MS)
    await proc.exited
    clearTimeout(timer)
  }

  #stop (signal: string): void {
    if (this.#stopping) {
      // The same Ctrl-C delivered twice (terminal and npm), not an operator insisting (cli/serve.ts).
      if (performance.now() - this.#stoppedAt < SAME_SIGNAL_MS) return
      complain(`${signal} again, killing the gateway processes without draining`)
      for (const proc of this.#live) proc.kill('SIGKILL')
      process.exit(1)
    }
    this.#stopping = true
    this.#stoppedAt = performance.now()
    for (const slot of this.#slots) clearTimeout(slot.restartTimer)
    say(`${signal}, closing ${this.#live.size} processes (in-flight requests get up to ${this.#options.shutdownTimeoutMs} ms to finish)`)
    Promise.all([...this.#live].map(async proc => this.#drain(proc))).then(() => process.exit(0), () => process.exit(1))
  }
}

/** Linux >= 5.14: whether a closed SO_REUSEPORT socket's queued connections move to another socket of its group. */
function migrateSetting (): string | undefined {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim()
  } catch {
    return undefined
  }
}

function isReady (outcome: ChildMessage | Exit): outcome is ReadyMessage {
  return 'type' in outcome && outcome.type === 'warmgate:ready'
}
