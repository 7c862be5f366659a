import { GatewayError } from '../errors.ts'

/**
 * Caps live processes per app (`concurrency`): a request takes a slot before it spawns and gives it back
 * when its process has exited. Waiters queue in arrival order up to `queue`; one more is refused at
 * once (503 + Retry-After) rather than piling up unboundedly. A waiter whose signal aborts (client gone,
 * timeout) leaves the queue.
 */
export class ProcessSlots {
  readonly #limit: number
  readonly #queueLimit: number
  #live = 0
  readonly #waiters: Array<{ grant: () => void }> = []

  constructor (limit: number, queueLimit: number) {
    this.#limit = limit
    this.#queueLimit = queueLimit
  }

  get live (): number { return this.#live }

  /** Resolves once a slot is held; call `release()` exactly once afterwards. */
  acquire (signal: AbortSignal): Promise<void> {
    if (this.#live < this.#limit) {
      this.#live++
      return Promise.resolve()
    }
    if (this.#waiters.length >= this.#queueLimit) {
      return Promise.reject(new GatewayError('WG_ERR_OVERLOADED', `all ${this.#limit} process slots are busy and ${this.#queueLimit} requests are already waiting`))
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter)
        if (index !== -1) this.#waiters.splice(index, 1)
        reject(signal.reason)
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
