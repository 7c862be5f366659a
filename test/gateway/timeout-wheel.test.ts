import { describe, expect, it } from 'vitest'
import { LazyAbortController } from '../../src/gateway/lazy-abort.ts'
import { TimeoutWheel, type Expiring } from '../../src/gateway/timeout-wheel.ts'

/** A request the wheel watches: when it expired, by `performance.now()`. */
function watched (deadline: number): Expiring & { expiredAt?: number } {
  const item: Expiring & { expiredAt?: number } = { deadline, expire () { item.expiredAt = performance.now() } }
  return item
}

const timeouts = (): number => process.getActiveResourcesInfo().filter(kind => kind === 'Timeout').length

describe('TimeoutWheel', () => {
  it('expires a request once its deadline has passed, never before, and at most a tick (1/20 of the timeout) after', async () => {
    const wheel = new TimeoutWheel(400) // a tick of 20 ms
    const start = performance.now()
    const early = watched(start + 60)
    const late = watched(start + 200)
    wheel.add(early)
    wheel.add(late)
    await new Promise(resolve => setTimeout(resolve, 320))
    expect(early.expiredAt).toBeGreaterThanOrEqual(early.deadline)
    expect(late.expiredAt).toBeGreaterThanOrEqual(late.deadline)
    // The bound a loaded machine keeps: a tick, plus the timer's own lateness.
    expect((late.expiredAt as number) - late.deadline).toBeLessThan(20 + 100)
  })

  it('never expires a request taken off it, and leaves no timer behind once it watches nothing', async () => {
    const before = timeouts()
    const wheel = new TimeoutWheel(100) // a tick of 5 ms
    const done = watched(performance.now() + 20)
    const other = watched(performance.now() + 20)
    wheel.add(done)
    wheel.add(other)
    expect(timeouts()).toBe(before + 1) // one interval for both
    wheel.delete(done)
    await new Promise(resolve => setTimeout(resolve, 80))
    expect(done.expiredAt).toBeUndefined()
    expect(other.expiredAt).toBeDefined()
    expect(timeouts()).toBe(before)
    wheel.delete(other) // again, and after it expired: nothing happens
    expect(timeouts()).toBe(before)
  })
})

describe('LazyAbortController', () => {
  it('makes no signal until one is read or the request is aborted', () => {
    const abort = new LazyAbortController()
    expect(abort.made).toBe(false)
    const signal = abort.signal
    expect(abort.made).toBe(true)
    expect(abort.signal).toBe(signal)
    expect(signal.aborted).toBe(false)
  })

  it('aborts before its signal is read: the signal then read is aborted with the reason', () => {
    const abort = new LazyAbortController()
    const reason = new Error('client gone')
    abort.abort(reason)
    expect(abort.signal.aborted).toBe(true)
    expect(abort.signal.reason).toBe(reason)
  })

  it('aborts a signal read earlier, and its listeners hear it once', () => {
    const abort = new LazyAbortController()
    let heard = 0
    abort.signal.addEventListener('abort', () => { heard++ })
    abort.abort(new Error('timeout'))
    abort.abort(new Error('again'))
    expect(heard).toBe(1)
    expect((abort.signal.reason as Error).message).toBe('timeout')
  })
})
