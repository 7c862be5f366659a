import { pbkdf2Sync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/index.ts'
import { SHIPPED_WORKLOADS } from '../../src/bench/workloads.ts'
import { startGateway, within } from '../helpers/gateway.ts'

// The workloads `warmgate bench` ships (apps/), served the way the bench serves them, in warm mode (the
// mode where a body crosses a thread: a body transferred out of the worker must not empty the next one).
let gateway: Gateway

beforeAll(async () => {
  ({ gateway } = await within(20_000, 'starting the shipped workloads', startGateway({ apps: SHIPPED_WORKLOADS }, { mode: 'warm' })))
})
afterAll(async () => {
  await within(10_000, 'closing the gateway', gateway.close())
})

const get = async (path: string): Promise<Response> => within(10_000, `GET ${path}`, gateway.fetch(new Request(`http://local${path}`)))

describe('shipped bench workloads', () => {
  it('hello answers its 13 bytes', async () => {
    expect(await (await get('/hello')).text()).toBe('Hello, world!')
  })

  it('cpu runs the requested PBKDF2 rounds, 14,000 when n is missing or out of range', async () => {
    const key = (rounds: number): string => pbkdf2Sync('correct horse battery staple', 'warmgate', rounds, 16, 'sha256').toString('hex')
    expect(await (await get('/cpu?n=1000')).text()).toBe(`1000 rounds: ${key(1000)}\n`)
    for (const path of ['/cpu', '/cpu?n=0', '/cpu?n=1.5', '/cpu?n=99999999']) {
      expect(await (await get(path)).text(), path).toBe(`14000 rounds: ${key(14_000)}\n`)
    }
  })

  it('io answers after its timer, 20 ms by default', async () => {
    const started = performance.now()
    const res = await get('/io')
    expect(await res.text()).toBe('waited 20 ms\n')
    expect(performance.now() - started).toBeGreaterThanOrEqual(19)
  })

  it('big answers the same 1 MiB body every time', async () => {
    for (let i = 0; i < 3; i++) {
      const body = new Uint8Array(await (await get('/big')).arrayBuffer())
      expect(body.byteLength).toBe(1024 * 1024)
      expect(new TextDecoder().decode(body.subarray(0, 16))).toBe('0123456789abcdef')
    }
  })
})
