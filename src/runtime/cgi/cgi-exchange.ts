import { Readable } from 'node:stream'
import { createCgiResponseParser, type CgiResponseFailureReason } from '../../cgi/response.ts'
import { type ErrorCode, GatewayError, isGatewayError } from '../../errors.ts'
import type { Logger } from '../../log/logger.ts'
import type { CgiChild, ExitStatus, SpawnSpec, Spawner } from '../../spawn/spawner.ts'
import type { GatewayResponse } from '../../types.ts'
import { ExitCheckedBody, exitSoon, truncatedBy } from './cgi-body.ts'
import { onAbort } from '../runtime.ts'

export interface ExchangeOptions {
  readonly spawner: Spawner
  /** The app's logger; lines add `reqId`. */
  readonly log: Logger
  readonly reqId: string
  /** RFC 3875 §5 non-parsed-header script (`nph-` name). */
  readonly nph?: boolean
  /** The process is cold mode's runner: it may speak the `@warmgate` stderr protocol (cold.runner.ts). */
  readonly runner?: boolean
  /** Told about the process as soon as it runs (the runtime tracks it until it exits). */
  readonly onChild?: (child: CgiChild) => void
}

/**
 * How long, and how much, a response body is held to see whether it is complete (see `coalesce`). The
 * compiled spawn helper holds a child's first output up to 2 ms for its end already (spawn-helper.c
 * on_stdout): together a streaming script's first bytes wait ~5-6 ms at most.
 */
const COALESCE_MS = 3
const COALESCE_BYTES = 64 * 1024
/** stderr kept per request; the rest is counted and drained, never buffered. */
const STDERR_CAP = 64 * 1024
/** Prefix of the runner's structured stderr lines (cold.runner.ts writes them). */
export const RUNNER_LINE = '@warmgate '
/** Exit codes of the runner that mean "the handler failed", not "the process broke". */
export const RUNNER_EXIT: Readonly<Record<number, ErrorCode>> = { 70: 'WG_ERR_HANDLER_THREW', 71: 'WG_ERR_HANDLER_RESULT', 72: 'WG_ERR_HANDLER_LOAD', 73: 'WG_ERR_HANDLER_INVALID', 74: 'WG_ERR_LAMBDA_THREW', 75: 'WG_ERR_LAMBDA_RESULT' }

export const FAILURE_CODES: Readonly<Record<CgiResponseFailureReason, ErrorCode>> = {
  'empty-output': 'WG_ERR_CGI_EMPTY_OUTPUT',
  'no-header-block': 'WG_ERR_CGI_NO_HEADERS',
  'header-too-large': 'WG_ERR_CGI_HEADER_TOO_LARGE',
  'bad-status': 'WG_ERR_CGI_BAD_STATUS',
  'no-content-type': 'WG_ERR_CGI_NO_CONTENT_TYPE',
}

/**
 * Runs one CGI process for one request: spawns it, parses the head of its stdout (RFC 3875 §6), and
 * answers with a response whose body is the rest of stdout, streamed (the caller reads it with
 * backpressure). `signal` (client gone, timeout) kills the process group at any phase: before the
 * head it rejects with the signal's reason, after it the body stream errors.
 */
export async function runCgi (spec: SpawnSpec, signal: AbortSignal, options: ExchangeOptions): Promise<GatewayResponse> {
  signal.throwIfAborted()
  const stderr = new StderrLog(options)
  const child = await options.spawner.spawn(spec, stderr.push)
  options.onChild?.(child)
  void child.exited.then(stderr.finish)
  if (signal.aborted) {
    child.kill()
    throw signal.reason
  }
  return readHead(child, signal, stderr, options)
}

function readHead (child: CgiChild, signal: AbortSignal, stderr: StderrLog, options: ExchangeOptions): Promise<GatewayResponse> {
  const { stdout } = child
  const parser = createCgiResponseParser({ nph: options.nph, requireContentType: options.runner !== true })
  return new Promise<GatewayResponse>((resolve, reject) => {
    let streaming = false
    let exitStatus: ExitStatus | undefined
    void child.exited.then((status) => { exitStatus = status })
    const stopAbort = onAbort(signal, (reason) => {
      child.kill()
      if (streaming) {
        // Headers are out: the client's connection is closed instead of a 504 (MountedApp logs only pre-head failures).
        const code = (reason as { code?: string })?.code
        if (code !== 'WG_ERR_CLIENT_ABORTED') options.log.warn({ reqId: options.reqId, code }, 'stopped the process in the middle of its response body')
        stdout.destroy(reason as Error)
      }
      else {
        detach()
        stdout.destroy()
        reject(reason)
      }
    })
    // The abort listener stays until the process is gone and its output read: a client that leaves
    // mid-body must still kill it.
    void Promise.all([child.exited, new Promise(resolve => stdout.once('close', resolve))]).then(stopAbort)

    const detach = (): void => {
      stdout.off('data', onData)
      stdout.off('end', onEnd)
      stdout.off('error', onError)
    }
    const settle = (outcome: ReturnType<typeof parser.end>, ended: boolean): void => {
      detach()
      if (!outcome.ok) {
        child.kill()
        stdout.destroy()
        void failure(child, outcome.reason, outcome.message, stderr, options).then(reject)
        return
      }
      const { head } = outcome
      for (const dropped of head.dropped) {
        options.log.warn({ reqId: options.reqId, reason: dropped.reason, line: dropped.line.slice(0, 200) }, 'dropped a header line from the script')
      }
      const res: GatewayResponse = { status: head.status, statusText: head.statusText, headers: lowerFraming(head.headers), body: null }
      if (head.localRedirect !== undefined) res.localRedirect = head.localRedirect
      if (ended) {
        res.body = outcome.body.byteLength > 0 ? outcome.body : null
        return resolve(res)
      }
      coalesce(res, outcome.body, head.contentLength)
    }

    /**
     * Most CGI responses are small and end a moment after their head: waiting up to COALESCE_MS (or
     * COALESCE_BYTES) for the end turns them into one write with a Content-Length instead of a chunked
     * head, a chunk and a terminator (measured on the sh hello benchmark: one syscall and ~10% of the
     * gateway's CPU per request). A script still writing after that is streamed as it comes.
     */
    const coalesce = (res: GatewayResponse, first: Uint8Array, declared: number | null): void => {
      const chunks: Uint8Array[] = first.byteLength > 0 ? [first] : []
      let size = first.byteLength
      const stop = (): void => {
        clearTimeout(timer)
        stdout.off('data', collect)
        stdout.off('end', finish)
        stdout.off('error', onError)
      }
      const stream = (): void => {
        stop()
        streaming = true
        stdout.pause()
        if (size > 0) stdout.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
        // With its own Content-Length the front door sees a short body itself; without one, only the exit
        // status tells a cut body from a whole one.
        if (declared === null) {
          const body = new ExitCheckedBody(stdout, child, options.runner === true)
          body.once('error', (error: Error & { code?: string }) => {
            if (error.code === 'WG_ERR_CGI_TRUNCATED') options.log.warn({ reqId: options.reqId, code: error.code }, `response body cut short: ${error.message}`)
          })
          res.body = body
        } else res.body = stdout
        resolve(res)
      }
      // The script's own Content-Length says when its body is whole: no need to wait for the end of
      // stdout (cold mode's runner declares it, and a Node process takes ms to exit after its last write).
      const complete = (): boolean => {
        if (declared === null || size < declared) return false
        stop()
        const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)
        res.body = declared === 0 ? null : all.subarray(0, declared)
        // Whatever follows (bytes past the promised length, the end) is read and dropped, so stdout closes.
        stdout.on('error', noop)
        stdout.resume()
        resolve(res)
        return true
      }
      const collect = (chunk: Buffer): void => {
        chunks.push(chunk)
        size += chunk.byteLength
        if (!complete() && size >= COALESCE_BYTES) stream()
      }
      const finish = (): void => {
        stop()
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)
        if (declared === null) {
          // The head is not sent yet: a body the process did not finish is a 502, not a short 200.
          const status = exitSoon(child, exitStatus)
          if (status === exitStatus) return whole(body, truncatedBy(exitStatus, options.runner === true))
          void (status as Promise<ExitStatus | undefined>).then(late => whole(body, truncatedBy(late, options.runner === true)))
          return
        }
        // A body that breaks the script's own Content-Length goes out as a stream, so that the front door
        // enforces the length the script promised (cut, or the connection closed) as it does for any stream.
        if (size !== declared) res.body = Readable.from([body], { objectMode: false })
        else res.body = size === 0 ? null : body
        resolve(res)
      }
      const whole = (body: Uint8Array, cut: string | undefined): void => {
        if (cut !== undefined) return reject(new GatewayError('WG_ERR_CGI_TRUNCATED', cut))
        res.body = size === 0 ? null : body
        resolve(res)
      }
      const timer = setTimeout(stream, COALESCE_MS)
      if (complete()) return
      stdout.on('data', collect)
      stdout.once('end', finish)
      stdout.once('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      const outcome = parser.push(chunk)
      if (outcome !== null) settle(outcome, false)
    }
    const onEnd = (): void => settle(parser.end(), true)
    const onError = (error: Error): void => {
      detach()
      child.kill()
      reject(isGatewayError(error) ? error : new GatewayError('WG_ERR_CGI_NO_HEADERS', `reading the script's stdout failed: ${error.message}`, { cause: error }))
    }
    stdout.on('data', onData)
    stdout.on('end', onEnd)
    stdout.on('error', onError)
    // The spawner hands stdout over paused; a 'data' listener alone does not restart a paused stream.
    stdout.resume()
  })
}

/** The error for output that cannot be a response; an empty output of the runner says why it exited. */
async function failure (child: CgiChild, reason: CgiResponseFailureReason, message: string, stderr: StderrLog, options: ExchangeOptions): Promise<GatewayError> {
  if (reason === 'empty-output') {
    const status = await child.exited
    // A process that could not be started can read as empty output: its status says why.
    if (status.error !== undefined) return isGatewayError(status.error) ? status.error : new GatewayError('WG_ERR_SPAWN', status.error.message)
    await stderr.drained
    const runnerCode = options.runner === true && status.code !== null ? RUNNER_EXIT[status.code] : undefined
    if (runnerCode !== undefined) {
      const reported = stderr.runnerError
      const cause = reported === undefined ? undefined : Object.assign(new Error(reported.message), { stack: reported.stack })
      return new GatewayError(runnerCode, reported?.message ?? `the handler failed (runner exit ${status.code})`, { cause })
    }
    return new GatewayError('WG_ERR_CGI_EMPTY_OUTPUT', `the process ${describeExit(status)} without writing a response`)
  }
  return new GatewayError(FAILURE_CODES[reason], message)
}

// The names a front door looks for, in the spelling GatewayResponse promises (types.ts).
const FRONT_DOOR_NAMES = new Set(['content-length', 'transfer-encoding', 'x-request-id'])

/** A script writes `Content-Length` or `X-Request-Id` in any case; the front doors compare lower-case. */
export function lowerFraming (headers: string[]): string[] {
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i].toLowerCase()
    if (FRONT_DOOR_NAMES.has(lower)) headers[i] = lower
  }
  return headers
}

function describeExit (status: ExitStatus): string {
  return status.signal !== null ? `was killed by ${status.signal}` : `exited with code ${status.code}`
}

interface RunnerError { message: string, stack?: string }

/** What StderrLog needs (a FastCGI exchange logs its STDERR records with it too). */
export type StderrOptions = Pick<ExchangeOptions, 'log' | 'reqId' | 'runner'>

/**
 * The script's stderr, logged line by line with the request id at warn level (RFC 3875 leaves stderr to
 * the server; like lighttpd we log it). Capped per request; never part of a response.
 */
export class StderrLog {
  readonly #options: StderrOptions
  #pending = ''
  #kept = 0
  #dropped = 0
  runnerError: RunnerError | undefined
  #resolveDrained!: () => void
  readonly drained = new Promise<void>(resolve => { this.#resolveDrained = resolve })

  constructor (options: StderrOptions) {
    this.#options = options
  }

  push = (chunk: Buffer): void => {
    if (this.#kept >= STDERR_CAP) {
      this.#dropped += chunk.byteLength
      return
    }
    const room = STDERR_CAP - this.#kept
    const text = chunk.toString('utf8', 0, Math.min(room, chunk.byteLength))
    this.#kept += Math.min(room, chunk.byteLength)
    this.#dropped += Math.max(0, chunk.byteLength - room)
    const lines = (this.#pending + text).split('\n')
    this.#pending = lines.pop() as string
    for (const line of lines) this.#line(line)
  }

  finish = (): void => {
    // 'exit' can come before the last stderr bytes; give the pipe one turn to deliver them.
    setImmediate(() => {
      if (this.#pending !== '') this.#line(this.#pending)
      this.#pending = ''
      if (this.#dropped > 0) this.#options.log.warn({ reqId: this.#options.reqId, droppedBytes: this.#dropped }, `script stderr over ${STDERR_CAP} bytes; the rest was not logged`)
      this.#resolveDrained()
    })
  }

  #line (raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const { log, reqId } = this.#options
    if (this.#options.runner === true && line.startsWith(RUNNER_LINE)) {
      const report = parseRunnerLine(line)
      if (report !== undefined) {
        if (report.fatal === true) this.runnerError = { message: report.msg, stack: report.stack }
        else log[report.level]({ reqId, err: report.stack === undefined ? undefined : { message: report.msg, stack: report.stack } }, report.msg)
        return
      }
    }
    if (line !== '') log.warn({ reqId, stderr: line }, 'script stderr')
  }
}

interface RunnerReport { level: 'error' | 'warn' | 'info', msg: string, stack?: string, fatal?: boolean }

function parseRunnerLine (line: string): RunnerReport | undefined {
  try {
    const report = JSON.parse(line.slice(RUNNER_LINE.length)) as RunnerReport
    if (typeof report.msg !== 'string' || !['error', 'warn', 'info'].includes(report.level)) return undefined
    return report
  } catch {
    return undefined
  }
}

function noop (): void {}
