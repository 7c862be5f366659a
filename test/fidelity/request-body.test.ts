import type { Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig, Mode } from '../../src/index.ts'
import { CGI_BIN } from '../cgi/support.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { agents, bytesOf, echoProblem, type Framing, inParallel, post, postViaFetch, SIZES, seededOptions } from './support.ts'

// Every request body reaches its handler whole, whatever its size, framing and split, in every mode and
// through every door, and comes back byte for byte: the handler's hash of what it received is checked
// against the client's, and the echo against what was sent. Sizes: support.ts SIZES.

const ECHO = `${FIXTURES}handlers/echo-hash.ts`
const LAMBDA_ECHO = `${FIXTURES}lambda/echo-hash.ts`

const app = (mode: Mode, extra: Partial<AppConfig> = {}): Omit<AppConfig, 'route'> => ({ mode, timeout: '30s', bodyLimit: '16mb', ...extra })

const APPS: Record<string, AppConfig> = {
  'warm-1': { ...app('warm', { workers: { min: 1, max: 1 } }), route: '/warm-1', entry: ECHO },
  'warm-3': { ...app('warm', { workers: { min: 3, max: 3 } }), route: '/warm-3', entry: ECHO },
  inline: { ...app('inline'), route: '/inline', entry: ECHO },
  cold: { ...app('cold'), route: '/cold', entry: ECHO },
  'lambda-warm': { ...app('warm', { workers: { min: 1, max: 2 } }), route: '/lambda-warm', entry: LAMBDA_ECHO },
  'lambda-inline': { ...app('inline'), route: '/lambda-inline', entry: LAMBDA_ECHO },
  'lambda-cold': { ...app('cold'), route: '/lambda-cold', entry: LAMBDA_ECHO },
  cgi: { timeout: '30s', bodyLimit: '16mb', route: '/cgi-bin', cgi: CGI_BIN },
}

interface Door {
  name: string
  path: string
  /** Process-per-request doors read every body whole before the script runs: every third size (one on each
   * side of every threshold group) proves that, at a process start each. Default: every size. */
  sizes?: readonly number[]
  /** Bodies are sent through gateway.fetch instead of a socket. */
  viaFetch?: boolean
  /** The handler's own hash and length come back as headers (not from a CGI script). */
  reportsHash: boolean
}

const SOME_SIZES = SIZES.filter((_, i) => i % 3 === 0)

const DOORS: Door[] = [
  { name: 'warm, 1 worker', path: '/warm-1/echo', reportsHash: true },
  { name: 'warm, 1 worker, request.body read as a stream', path: '/warm-1/echo?read=stream', reportsHash: true },
  { name: 'warm, 3 workers', path: '/warm-3/echo', reportsHash: true },
  { name: 'inline', path: '/inline/echo', reportsHash: true },
  { name: 'inline, request.body read as a stream', path: '/inline/echo?read=stream', reportsHash: true },
  { name: 'cold', path: '/cold/echo', reportsHash: true, sizes: SOME_SIZES },
  { name: 'Lambda handler, warm', path: '/lambda-warm/echo', reportsHash: true },
  { name: 'Lambda handler, inline', path: '/lambda-inline/echo', reportsHash: true },
  { name: 'Lambda handler, cold', path: '/lambda-cold/echo', reportsHash: true, sizes: SOME_SIZES },
  { name: 'CGI script (sh)', path: '/cgi-bin/echo.sh', reportsHash: false },
  { name: 'gateway.fetch, warm', path: '/warm-1/echo', viaFetch: true, reportsHash: true },
  { name: 'gateway.fetch, warm, request.body read as a stream', path: '/warm-3/echo?read=stream', viaFetch: true, reportsHash: true },
  { name: 'gateway.fetch, inline', path: '/inline/echo', viaFetch: true, reportsHash: true },
  { name: 'gateway.fetch, cold', path: '/cold/echo', viaFetch: true, reportsHash: true, sizes: SOME_SIZES },
]

describe('request bodies reach the handler byte for byte', () => {
  let started: Started
  const { keepAlive, destroy } = agents()

  beforeAll(async () => {
    started = await within(30_000, 'starting the gateway', startGateway({ server: { bodyLimit: '16mb' }, apps: APPS }))
  })

  afterAll(async () => {
    destroy()
    await within(20_000, 'closing the gateway', started?.gateway.close())
  })

  async function exchange (door: Door, body: Buffer, framing: Framing, agent: Agent, seed: number): Promise<string | undefined> {
    const options = seededOptions(body, framing, agent, seed)
    const res = door.viaFetch === true
      ? await postViaFetch(started.gateway, door.path, body, options)
      : await post(started.url + door.path, body, options)
    return echoProblem(body, framing, seed, res, door.reportsHash)
  }

  describe.each(DOORS)('$name', (door) => {
    for (const framing of ['length', 'chunked'] as const) {
      it(`every size with ${framing === 'length' ? 'Content-Length' : 'chunked framing, written in pieces with pauses'}, one after another on one keep-alive connection`, async () => {
        const agent = keepAlive(1)
        const problems: string[] = []
        for (const [index, size] of (door.sizes ?? SIZES).entries()) {
          const seed = size * 7 + index + (framing === 'chunked' ? 1 : 0)
          const problem = await exchange(door, bytesOf(size, seed), framing, agent, seed)
          if (problem !== undefined) problems.push(problem)
        }
        expect(problems).toEqual([])
      }, 120_000)
    }

    it('every size with both framings, four at a time on keep-alive connections', async () => {
      const agent = keepAlive(4)
      const problems: string[] = []
      const cases = (door.sizes ?? SIZES).flatMap(size => (['length', 'chunked'] as const).map(framing => ({ size, framing })))
      await inParallel(cases, 4, async ({ size, framing }, index) => {
        const seed = 1_000_003 + size + index
        const problem = await exchange(door, bytesOf(size, seed), framing, agent, seed)
        if (problem !== undefined) problems.push(problem)
      })
      expect(problems.sort()).toEqual([])
    }, 120_000)
  })
})
