import { Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig, Mode } from '../../src/index.ts'
import { generated, type Shape } from '../fixtures/handlers/generate.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { describeMismatch, get, inParallel, SIZES } from './support.ts'

// Every response body reaches the client byte for byte, whatever its shape (bytes, ArrayBuffer, string,
// stream with empty and one-byte chunks, Blob), its size (support.ts SIZES), with and without a declared
// Content-Length, in every mode and through gateway.fetch.

const GENERATE = `${FIXTURES}handlers/generate.ts`
const SHAPES: Shape[] = ['bytes', 'arraybuffer', 'string', 'stream', 'blob']
/** Every third size: one on each side of every threshold group, for the slow targets and shapes. */
const SOME_SIZES = SIZES.filter((_, i) => i % 3 === 0)
/**
 * ArrayBuffer and string bodies become bytes in the handler's thread before anything size-dependent
 * happens (the same path as `bytes` from there on): their conversion is what is tested, on fewer sizes.
 */
const sizesFor = (shape: Shape, sizes: readonly number[]): readonly number[] => shape === 'arraybuffer' || shape === 'string' ? SOME_SIZES : sizes
const app = (mode: Mode, extra: Partial<AppConfig> = {}): Omit<AppConfig, 'route'> => ({ mode, timeout: '30s', entry: GENERATE, ...extra })

const TARGETS: Array<{ name: string, route: string, app: Omit<AppConfig, 'route'>, viaFetch?: boolean, sizes: readonly number[] }> = [
  { name: 'warm, 1 worker', route: '/warm-1', app: app('warm', { workers: { min: 1, max: 1 } }), sizes: SIZES },
  // The same path as one worker, spread over three: fewer sizes.
  { name: 'warm, 3 workers', route: '/warm-3', app: app('warm', { workers: { min: 3, max: 3 } }), sizes: SOME_SIZES },
  { name: 'inline', route: '/inline', app: app('inline'), sizes: SIZES },
  // A process per request: fewer sizes.
  { name: 'cold', route: '/cold', app: app('cold'), sizes: SOME_SIZES },
  { name: 'gateway.fetch, warm', route: '/warm-1', app: app('warm'), viaFetch: true, sizes: SIZES },
  { name: 'gateway.fetch, inline', route: '/inline', app: app('inline'), viaFetch: true, sizes: SOME_SIZES },
]

describe('response bodies reach the client byte for byte', () => {
  let started: Started
  let agent: Agent

  beforeAll(async () => {
    const apps = Object.fromEntries(TARGETS.filter(t => t.viaFetch !== true).map(t => [t.route.slice(1), { ...t.app, route: t.route }]))
    started = await within(30_000, 'starting the gateway', startGateway({ apps }))
    agent = new Agent({ keepAlive: true, maxSockets: 4 })
  })

  afterAll(async () => {
    agent?.destroy()
    await within(20_000, 'closing the gateway', started?.gateway.close())
  })

  async function fetchBody (viaFetch: boolean, path: string): Promise<{ status: number, length: string | undefined, body: Buffer }> {
    if (!viaFetch) {
      const res = await get(started.url + path, { agent })
      return { status: res.status, length: res.headers['content-length'], body: res.body }
    }
    const res = await within(30_000, `gateway.fetch ${path}`, started.gateway.fetch(new Request(`http://local${path}`)))
    const body = Buffer.from(await res.arrayBuffer())
    return { status: res.status, length: res.headers.get('content-length') ?? undefined, body }
  }

  describe.each(TARGETS)('$name', (target) => {
    it.each(SHAPES)('every size of a %s body, with and without a declared length, four at a time', async (shape) => {
      const cases = sizesFor(shape, target.sizes).flatMap(size => [false, true].map(declare => ({ size, declare })))
      const problems: string[] = []
      await inParallel(cases, 4, async ({ size, declare }, index) => {
        const seed = size + index * 31
        const path = `${target.route}/${shape}?size=${size}&seed=${seed}${declare ? '&declare' : ''}`
        const expected = generated(shape, size, seed)
        const res = await fetchBody(target.viaFetch === true, path)
        if (res.status !== 200) problems.push(`${path}: status ${res.status}`)
        else if (!res.body.equals(expected)) problems.push(`${path}: ${describeMismatch(expected, res.body)}`)
        else if (declare && res.length !== String(expected.byteLength)) problems.push(`${path}: Content-Length ${String(res.length)}`)
      })
      expect(problems.sort()).toEqual([])
    }, 120_000)
  })
})
