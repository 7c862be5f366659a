import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLoad, type LoadGenerator } from '../../src/bench/load.ts'
import { SHIPPED_WORKLOADS } from '../../src/bench/workloads.ts'
import type { Gateway } from '../../src/index.ts'
import { FLAG_BODY } from '../fixtures/bench/echo.ts'
import { FIXTURES, startGateway, within } from '../helpers/gateway.ts'
import { childrenOf } from './support.ts'

// Both load generators against one real gateway: they must count and classify alike, since the report
// says which one ran and compares its figures with runs made by the other.
let gateway: Gateway
let url: string

beforeAll(async () => {
  ({ gateway, url } = await within(20_000, 'starting the gateway', startGateway({ apps: { hello: SHIPPED_WORKLOADS.hello, io: SHIPPED_WORKLOADS.io, echo: { route: '/echo', entry: join(FIXTURES, 'bench', 'echo.ts') } } }, { mode: 'inline' })))
})
afterAll(async () => {
  await within(10_000, 'closing the gateway', gateway.close())
})

describe.each<LoadGenerator>(['wrk', 'node'])('runLoad with %s', (generator) => {
  it('measures requests and latency percentiles of a 2xx route', async () => {
    const report = await within(20_000, `${generator} on /hello`, runLoad(generator, `${url}/hello`, { connections: 2, durationMs: 1000, timeoutMs: 5000 }))
    expect(report.requests).toBeGreaterThan(50)
    expect(report.durationMs).toBeGreaterThan(900)
    expect(report.durationMs).toBeLessThan(3000)
    expect(report.p50Ms).toBeGreaterThan(0)
    expect(report.p50Ms).toBeLessThanOrEqual(report.p90Ms)
    expect(report.p90Ms).toBeLessThanOrEqual(report.p99Ms)
    expect(report.p99Ms).toBeLessThanOrEqual(report.maxMs)
    expect(report.errors).toEqual({ non2xx: 0, timeouts: 0, resets: 0, other: 0 })
    expect(report.cpuSeconds).toBeGreaterThan(0)
    expect(childrenOf(process.pid).filter(p => !p.cmdline.includes('vitest'))).toEqual([])
  })

  it('sends the method, headers and body of its request (echo answers 400 to any other)', async () => {
    const request = { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from(FLAG_BODY) }
    const report = await within(20_000, `${generator} POST /echo/flag`, runLoad(generator, `${url}/echo/flag`, { connections: 2, durationMs: 1000, timeoutMs: 5000, request }))
    expect(report.requests).toBeGreaterThan(50)
    expect(report.errors).toEqual({ non2xx: 0, timeouts: 0, resets: 0, other: 0 })
    expect(childrenOf(process.pid).filter(p => !p.cmdline.includes('vitest'))).toEqual([])
  })

  it('counts every answer of a 404 route as non2xx', async () => {
    const report = await within(20_000, `${generator} on /missing`, runLoad(generator, `${url}/missing`, { connections: 2, durationMs: 1000, timeoutMs: 5000 }))
    expect(report.requests).toBeGreaterThan(10)
    expect(report.errors.non2xx).toBe(report.requests)
  })

  it('counts requests slower than the timeout as timeouts', async () => {
    const report = await within(20_000, `${generator} on a 1.5 s route`, runLoad(generator, `${url}/io?ms=1500`, { connections: 2, durationMs: 2000, timeoutMs: 1000 }))
    expect(report.errors.timeouts).toBeGreaterThan(0)
  })
})
