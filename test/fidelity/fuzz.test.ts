import { Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig } from '../../src/index.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { bytesOf, checkEcho, type Echo, type Framing, post, postViaFetch, prng, split } from './support.ts'

// Random body sizes, framings and splits for a bounded time, so that the next threshold bug is found by
// the suite and not by a user. Seeded: the seed is printed with every failure, and
// `WARMGATE_FUZZ_SEED=<seed> npx vitest run test/fidelity/fuzz.test.ts` runs the same cases again
// (which of them a lane reaches in its time depends on the machine's speed).

const SEED = Number(process.env.WARMGATE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** How long each door is fuzzed, and how many requests a lane may send at most. */
const FUZZ_MS = 2500
const MAX_PER_LANE = 400
const LANES = 4
const ECHO = `${FIXTURES}handlers/echo-hash.ts`
/** Every size the gateway's code treats specially, to land on and next to. */
const THRESHOLDS = [8 * 1024, 16 * 1024, 64 * 1024, 128 * 1024, 256 * 1024, 1024 * 1024]
const MAX_SIZE = 4 * 1024 * 1024 + 1

const app = (mode: AppConfig['mode'], route: string): AppConfig => ({ route, entry: ECHO, mode, timeout: '30s', bodyLimit: '16mb', workers: { min: 2, max: 2 } })

const DOORS = [
  // Both ways a handler reads a body: arrayBuffer() here, request.body's stream in the doors below.
  { name: 'warm, 2 workers', path: '/warm/echo' },
  { name: 'inline', path: '/inline/echo?read=stream' },
  { name: 'cold', path: '/cold/echo' },
  { name: 'gateway.fetch, warm', path: '/warm/echo?read=stream', viaFetch: true },
]

/** A size: mostly on or next to a threshold, else anywhere from 0 to 4 MiB + 1, small ones as likely as large. */
function pickSize (random: () => number): number {
  const roll = random()
  if (roll < 0.4) return Math.max(0, THRESHOLDS[Math.floor(random() * THRESHOLDS.length)] + Math.floor(random() * 7) - 3)
  if (roll < 0.5) return Math.floor(random() * 3)
  return Math.min(MAX_SIZE, Math.floor(Math.exp(random() * Math.log(MAX_SIZE))))
}

describe(`fuzzed request bodies (seed ${SEED})`, () => {
  let started: Started
  const agent = new Agent({ keepAlive: true, maxSockets: LANES })

  beforeAll(async () => {
    started = await within(30_000, 'starting the gateway', startGateway({
      server: { bodyLimit: '16mb' },
      apps: { warm: app('warm', '/warm'), inline: app('inline', '/inline'), cold: app('cold', '/cold') },
    }))
  })

  afterAll(async () => {
    agent.destroy()
    await within(20_000, 'closing the gateway', started?.gateway.close())
  })

  it.each(DOORS)('$name: random sizes, framings and splits, four lanes at once, come back byte for byte', async (door) => {
    const deadline = performance.now() + FUZZ_MS
    const problems: string[] = []
    let sent = 0
    const lane = async (index: number): Promise<void> => {
      const random = prng(SEED + index * 7919 + door.path.length)
      for (let n = 0; n < MAX_PER_LANE && performance.now() < deadline && problems.length === 0; n++) {
        const size = pickSize(random)
        const framing: Framing = random() < 0.5 ? 'length' : 'chunked'
        const body = bytesOf(size, Math.floor(random() * 2 ** 31))
        const options = { framing, agent, pieces: split(body, random, 20), pauseMs: Math.floor(random() * 3) }
        const what = `seed ${SEED}, lane ${index}, request ${n}: ${size} bytes, ${framing}, ${options.pieces.length} piece(s), ${options.pauseMs} ms pauses`
        let res: Echo
        try {
          res = door.viaFetch === true ? await postViaFetch(started.gateway, door.path, body, options) : await post(started.url + door.path, body, options)
        } catch (error) {
          problems.push(`${what}: ${(error as Error).message}`)
          return
        }
        sent++
        const problem = checkEcho({ reportsHash: true }, body, res)
        if (problem !== undefined) problems.push(`${what}: ${problem}`)
      }
    }
    await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)))
    expect(problems, `rerun with WARMGATE_FUZZ_SEED=${SEED}`).toEqual([])
    expect(sent).toBeGreaterThan(0)
  }, FUZZ_MS + 60_000)
})
