import { GatewayError } from '../errors.ts'

/**
 * Admission for one app (`concurrency`, `maxQueue`, `queueTimeout`): a request takes a slot before it
 * runs and gives it back when its work is over (warm: the worker answered; cold and cgi: the process has
 * exited, or its response is complete and the grace after it has passed: process-runtime.ts). Waiters queue in arrival order up to `maxQueue`; one more is refused at once (503 +
 * Retry-After) rather than piling up unboundedly, and one that waits longer than `queueTimeout` gets a
 * 503 too. A waiter whose signal aborts (client gone) leaves the queue.
 */
export class Slots {
  readonly #limit: number
  readonly #queueLimit: number
  readonly #queueTimeoutMs: number
  #live = 0
  readonly #waiters: Waiter[] = []

  constructor (limit: number, queueLimit: number, queueTimeoutMs: number) {
    this.#limit = limit
    this.#queueLimit = queueLimit
    this.#queueTimeoutMs = queueTimeoutMs
  }

  get live (): number { return this.#live }
  get waiting (): number { return this.#waiters.length }

  /** Takes a slot now if one is free (the hot path: no promise). */
  tryAcquire (): boolean {
    if (this.#live >= this.#limit) return false
    this.#live++
    return true
  }

  /** Resolves once a slot is held; call `release()` exactly once afterwards. */
  acquire (signal: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    if (this.#waiters.length >= this.#queueLimit) {
      return Promise.reject(new GatewayError('WG_ERR_OVERLOADED', `all ${this.#limit} slots are busy and ${this.#queueLimit} requests are already waiting`))
    }
    return new Promise((resolve, reject) => {
      const leave = (reason: unknown): void => {
        const index = this.#waiters.indexOf(waiter)
        if (index !== -1) this.#waiters.splice(index, 1)
        clearTimeout(waiter.timer)
        signal.removeEventListener('abort', onAbort)
        reject(reason)
      }
      const onAbort = (): void => leave(signal.reason)
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer)
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        timer: setTimeout(() => leave(new GatewayError('WG_ERR_QUEUE_TIMEOUT', `waited ${this.#queueTimeoutMs} ms for one of ${this.#limit} busy slots`)), this.#queueTimeoutMs),
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  release (): void {
    const next = this.#waiters.shift()
    // The slot passes straight to the next waiter: `live` stays the same.
    if (next !== undefined) next.grant()
    else this.#live--
  }
}

interface Waiter {
  grant: () => void
  timer: NodeJS.Timeout
}
