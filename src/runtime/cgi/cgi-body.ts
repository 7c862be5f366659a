import { Readable } from 'node:stream'
import { GatewayError } from '../../errors.ts'
import type { CgiChild, ExitStatus } from '../../spawn/spawner.ts'

/**
 * How long the end of a body waits for the process's exit status. A process killed mid-body closes its
 * stdout and is reaped at the same moment, so its status comes within a turn or two; a script that closed
 * stdout and runs on (background work, cold mode's `ctx.waitUntil`) is taken as done after this.
 */
export const EXIT_WAIT_MS = 250

/**
 * Whether a process that ended its stdout this way cut its body short. A signal always did (a crash, an
 * OOM kill, a `kill -9`): CGI has no end marker, so its status is the only sign. Cold mode's runner also
 * exits non-zero when the handler's body stream failed (cold.runner.ts); a CGI script's exit code says
 * nothing about its output (a shell script's last command may fail after a whole page), so it is ignored.
 */
export function truncatedBy (status: ExitStatus | undefined, runner: boolean): string | undefined {
  if (status === undefined) return undefined
  if (status.signal !== null) return `the process was killed by ${status.signal} before its body ended`
  if (runner && status.code !== 0 && status.code !== null) return `the handler's body failed (runner exit ${status.code})`
  return undefined
}

/** The exit status if it comes within EXIT_WAIT_MS, else `undefined` (the process runs on). */
export function exitSoon (child: CgiChild, exited: ExitStatus | undefined): Promise<ExitStatus | undefined> | ExitStatus {
  if (exited !== undefined) return exited
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, EXIT_WAIT_MS, undefined)
    void child.exited.then((status) => {
      clearTimeout(timer)
      resolve(status)
    })
  })
}

/**
 * A process's stdout as a response body whose end is checked against the exit status: a body the
 * process did not finish errors (the front door then closes the connection without the last chunk, so
 * the client sees a cut body, RFC 9112 §7.1) instead of ending as if it were whole.
 */
export class ExitCheckedBody extends Readable {
  readonly #source: Readable
  #status: ExitStatus | undefined

  constructor (source: Readable, child: CgiChild, runner: boolean) {
    super({ highWaterMark: 64 * 1024 })
    this.#source = source
    void child.exited.then((status) => { this.#status = status })
    source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause()
    })
    source.once('end', () => {
      void Promise.resolve(exitSoon(child, this.#status)).then((status) => {
        if (this.destroyed) return
        const cut = truncatedBy(status, runner)
        if (cut === undefined) this.push(null)
        else this.destroy(new GatewayError('WG_ERR_CGI_TRUNCATED', cut))
      })
    })
    source.once('error', error => this.destroy(error))
  }

  override _read (): void {
    this.#source.resume()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#source.destroyed) this.#source.destroy()
    callback(error)
  }
}
