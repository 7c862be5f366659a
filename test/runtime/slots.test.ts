import { describe, expect, it } from 'vitest'
import { Slots } from '../../src/runtime/slots.ts'

/** What `promise` has come to by the next turn of the event loop: granted, rejected (with its code), or pending. */
async function settled (promise: Promise<unknown>): Promise<string> {
  const outcome = promise.then(() => 'granted', (error: Error) => `rejected: ${(error as { code?: string }).code ?? error.message}`)
  return Promise.race([outcome, new Promise<string>(resolve => setImmediate(resolve, 'pending'))])
}

describe('Slots', () => {
  it('grants up to the limit at once, queues the next ones in arrival order, and passes a released slot on', async () => {
    const slots = new Slots(2, 5, 10_000)
    const signal = new AbortController().signal
    const order: number[] = []
    await slots.acquire(signal)
    await slots.acquire(signal)
    expect(slots.live).toBe(2)
    const waiting = [3, 4, 5].map(n => slots.acquire(signal).then(() => { order.push(n) }))
    expect(await settled(waiting[0])).toBe('pending')
    slots.release()
    slots.release()
    await Promise.all(waiting.slice(0, 2))
    expect(order).toEqual([3, 4])
    expect(slots.live).toBe(2)
    slots.release()
    await waiting[2]
    expect(order).toEqual([3, 4, 5])
    slots.release()
    slots.release()
    expect(slots.live).toBe(0)
  })

  it('refuses one more than the queue holds with WG_ERR_OVERLOADED', async () => {
    const slots = new Slots(1, 1, 10_000)
    const signal = new AbortController().signal
    await slots.acquire(signal)
    const queued = slots.acquire(signal)
    expect(await settled(slots.acquire(signal))).toBe('rejected: WG_ERR_OVERLOADED')
    expect(await settled(queued)).toBe('pending')
    slots.release()
    expect(await settled(queued)).toBe('granted')
  })

  it('drops a waiter whose signal aborts, with the signal reason, and does not give it a slot later', async () => {
    const slots = new Slots(1, 2, 10_000)
    await slots.acquire(new AbortController().signal)
    const leaving = new AbortController()
    const gone = slots.acquire(leaving.signal)
    const staying = slots.acquire(new AbortController().signal)
    leaving.abort(Object.assign(new Error('client left'), { code: 'WG_ERR_CLIENT_ABORTED' }))
    expect(await settled(gone)).toBe('rejected: WG_ERR_CLIENT_ABORTED')
    slots.release()
    expect(await settled(staying)).toBe('granted')
    expect(slots.live).toBe(1)
  })

  it('refuses a waiter that waited longer than the queue timeout with WG_ERR_QUEUE_TIMEOUT, and keeps the slot count', async () => {
    const slots = new Slots(1, 4, 50)
    const signal = new AbortController().signal
    expect(slots.tryAcquire()).toBe(true)
    expect(slots.tryAcquire()).toBe(false)
    const started = performance.now()
    const waiting = slots.acquire(signal).then(() => 'granted', (error: { code?: string }) => error.code)
    expect(slots.waiting).toBe(1)
    expect(await waiting).toBe('WG_ERR_QUEUE_TIMEOUT')
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
    expect(slots.waiting).toBe(0)
    slots.release()
    expect(slots.live).toBe(0)
  })
})
