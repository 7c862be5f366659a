import type { Aborter } from '../types.ts'

/**
 * An AbortController made on first use: when the handler reads its signal, or when something aborts
 * the request. Most requests do neither, and the front door then needs no 'close' listener to abort
 * it either (http/listener.ts). `made` tells whether anything may be listening.
 */
export class LazyAbortController implements Aborter {
  #controller: AbortController | undefined

  get signal (): AbortSignal {
    return (this.#controller ??= new AbortController()).signal
  }

  /** Whether the signal may have been read (the controller exists). */
  get made (): boolean {
    return this.#controller !== undefined
  }

  abort (reason?: unknown): void {
    (this.#controller ??= new AbortController()).abort(reason)
  }
}
