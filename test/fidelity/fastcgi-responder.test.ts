import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { Agent } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig, Mode } from '../../src/index.ts'
import { freePort, NGINX, NGINX_FASTCGI_PARAMS, startNginx, type WebServer } from '../front/web-servers.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { agents, bytesOf, checkEcho, echoProblem, type Framing, inParallel, post, prng, SIZES, seededOptions } from './support.ts'

// Real nginx `fastcgi_pass` → warmgate's FastCGI responder → the echo-hash handler: every request body
// reaches the handler whole, whatever nginx does with it on the way (buffers it and sends CONTENT_LENGTH;
// streams it as it comes, a chunked one with no CONTENT_LENGTH; over a kept connection), and comes back
// byte for byte. The handler's hash of what it received is checked against the client's, the echo
// against what was sent. Sizes: support.ts SIZES with Content-Length everywhere; chunked in pieces
// with every size where it reaches the responder as such, a subset where nginx undoes it (see below).

if (NGINX === undefined) console.warn('[fidelity: FastCGI responder] skipped: no nginx binary (/usr/sbin/nginx); .ci/run installs nginx-light')

const ECHO = `${FIXTURES}handlers/echo-hash.ts`

const app = (route: string, mode: Mode, extra: Partial<Omit<AppConfig, 'route'>> = {}): AppConfig => ({ route, entry: ECHO, mode, timeout: '30s', bodyLimit: '16mb', ...extra })

/**
 * A handler that reads the first chunk of a streamed body and stops (leaving `for await` cancels
 * request.body), then answers once the rest of the body has had time to arrive. Written to the test's
 * temp dir in beforeAll.
 */
const STOPS_READING = `export default async (request) => {
  let first = 0
  for await (const chunk of request.body) { first = chunk.byteLength; break }
  await new Promise(resolve => setTimeout(resolve, 50))
  return new Response('read ' + first + ' bytes, then stopped')
}
`

const APPS: Record<string, AppConfig> = {
  'warm-1': app('/warm-1', 'warm', { workers: { min: 1, max: 1 } }),
  'warm-3': app('/warm-3', 'warm', { workers: { min: 3, max: 3 } }),
  inline: app('/inline', 'inline'),
  cold: app('/cold', 'cold'),
}

type NginxServer = 'buffered' | 'streaming' | 'kept'

/** How each nginx server passes requests on to the responder at `fastcgi` (host:port). */
const SERVERS: Record<NginxServer, { label: string, location: (fastcgi: string) => string }> = {
  // Defaults: nginx reads the whole body first (to a temp file past 16 KiB) and sends CONTENT_LENGTH;
  // it collects the response in its buffers (and a temp file) before passing it on.
  buffered: {
    label: 'nginx with request buffering (CONTENT_LENGTH always sent)',
    location: fastcgi => `location / { ${NGINX_FASTCGI_PARAMS} fastcgi_pass ${fastcgi}; }`,
  },
  // The body goes on as it arrives, a chunked one with no CONTENT_LENGTH; the response as it comes.
  streaming: {
    label: 'nginx with fastcgi_request_buffering off (a chunked body comes with no CONTENT_LENGTH)',
    location: fastcgi => `location / { ${NGINX_FASTCGI_PARAMS} fastcgi_request_buffering off; fastcgi_buffering off; fastcgi_pass ${fastcgi}; }`,
  },
  // One connection carries request after request (FCGI_KEEP_CONN): what one body leaves behind would show in the next.
  kept: {
    label: 'nginx with fastcgi_keep_conn on and an upstream keepalive pool',
    location: () => `location / { ${NGINX_FASTCGI_PARAMS} fastcgi_keep_conn on; fastcgi_pass warmgate; }`,
  },
}

/**
 * Sizes per door and framing. Through the streaming server every size goes with both framings: there a
 * chunked body reaches the responder with no CONTENT_LENGTH, a path of its own. The buffering servers
 * (buffered, kept) read a chunked body whole and send it with CONTENT_LENGTH, as they send a
 * Content-Length one, so for chunked they get a seeded third of SIZES (with 0, 1 and each side of 64 KiB
 * always in): every size both ways through every server took ~55 s here, mostly copying the 1-4 MiB
 * bodies through nginx's temp files; this keeps nginx's chunked decoding in the matrix for a third of it.
 */
const CHUNKED_SUBSET: readonly number[] = (() => {
  const random = prng(0xF1DE)
  return SIZES.filter(size => [0, 1, 65_536, 65_537].includes(size) || random() < 1 / 3)
})()

/**
 * Cold mode starts a process per request (~70 ms here, more under load): it gets a fixed subset, through
 * the streaming server only (its body is always collected whole first, with or without CONTENT_LENGTH):
 * the edges, each side of 64 KiB, sizes across record and window boundaries, and the largest.
 */
const COLD_SIZES = SIZES.filter(size => [0, 1, 8191, 65_535, 65_536, 65_537, 100_000, 262_145, 1_048_577, 3_000_001, 4_194_305].includes(size))

interface Door {
  name: string
  server: NginxServer
  path: string
  sizes: Record<Framing, readonly number[]>
}

const DOORS: Door[] = (['buffered', 'streaming', 'kept'] as const).flatMap((server) => {
  const sizes = { length: SIZES, chunked: server === 'streaming' ? SIZES : CHUNKED_SUBSET }
  return [
    { name: `${SERVERS[server].label} → warm, 1 worker`, server, path: '/warm-1/echo', sizes },
    { name: `${SERVERS[server].label} → warm, 3 workers`, server, path: '/warm-3/echo', sizes },
    { name: `${SERVERS[server].label} → inline`, server, path: '/inline/echo', sizes },
    ...(server === 'streaming' ? [{ name: `${SERVERS[server].label} → cold (a subset of sizes)`, server, path: '/cold/echo', sizes: { length: COLD_SIZES, chunked: COLD_SIZES } }] : []),
  ]
})

describe.skipIf(NGINX === undefined)('request bodies reach the handler byte for byte through nginx and the FastCGI responder', () => {
  let started: Started
  let nginx: WebServer
  let dir: string
  const urls = {} as Record<NginxServer, string>
  const { keepAlive, destroy } = agents()

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wg-fidelity-nginx-'))
    const stops = join(dir, 'stops-reading.mjs')
    writeFileSync(stops, STOPS_READING)
    started = await within(30_000, 'starting the gateway', startGateway({
      server: { bodyLimit: '16mb', fastcgi: { listen: '127.0.0.1:0' } },
      apps: {
        ...APPS,
        'stops-inline': app('/stops-inline', 'inline', { entry: stops }),
        'stops-warm': app('/stops-warm', 'warm', { entry: stops, workers: { min: 1, max: 1 } }),
      },
    }))
    const fastcgi = started.gateway.fastcgiStats()?.address as string
    const ready = await freePort()
    const blocks: string[] = [
      // Bodies up to 4 MiB + 1 (nginx's default is 1 MiB).
      '  client_max_body_size 32m;',
      `  upstream warmgate { server ${fastcgi}; keepalive 8; }`,
    ]
    for (const server of Object.keys(SERVERS) as NginxServer[]) {
      const port = await freePort()
      urls[server] = `http://127.0.0.1:${port}`
      blocks.push(`  server { listen 127.0.0.1:${port}; server_name ${server}.test; ${SERVERS[server].location(fastcgi)} }`)
    }
    nginx = await within(15_000, 'starting nginx', startNginx(join(dir, 'nginx'), ready, blocks.join('\n')))
  })

  afterAll(async () => {
    destroy()
    await nginx?.stop()
    await within(20_000, 'closing the gateway', started?.gateway.close())
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  async function exchange (door: Door, body: Buffer, framing: Framing, agent: Agent, seed: number): Promise<string | undefined> {
    const options = seededOptions(body, framing, agent, seed)
    return echoProblem(body, framing, seed, await post(urls[door.server] + door.path, body, options))
  }

  /** Runs `sweep`; on the kept server, also checks that nginx kept its FastCGI connections (≤ one per lane, never one per request). */
  async function counted (door: Door, lanes: number, sweep: () => Promise<void>): Promise<void> {
    const before = started.gateway.fastcgiStats()!
    await sweep()
    if (door.server !== 'kept') return
    const after = started.gateway.fastcgiStats()!
    expect(after.requests - before.requests).toBeGreaterThan(lanes * 8)
    // The upstream pool may already hold connections from an earlier test: at most one new one per lane.
    expect(after.accepted - before.accepted).toBeLessThanOrEqual(lanes)
  }

  // Named in full: describe.each would cut a long $name short in the test's own name.
  for (const door of DOORS) describe(door.name, () => {
    for (const framing of ['length', 'chunked'] as const) {
      it(`${door.sizes[framing] === SIZES ? 'every size' : `${door.sizes[framing].length} of the ${SIZES.length} sizes`} with ${framing === 'length' ? 'Content-Length' : 'chunked framing, written in pieces with pauses'}, one after another on one keep-alive connection`, async () => {
        const agent = keepAlive(1)
        const problems: string[] = []
        await counted(door, 1, async () => {
          for (const [index, size] of door.sizes[framing].entries()) {
            const seed = size * 7 + index + (framing === 'chunked' ? 1 : 0)
            const problem = await exchange(door, bytesOf(size, seed), framing, agent, seed)
            if (problem !== undefined) problems.push(problem)
          }
        })
        expect(problems).toEqual([])
      }, 60_000)
    }

    it('those sizes with both framings, four at a time on keep-alive connections', async () => {
      const agent = keepAlive(4)
      const problems: string[] = []
      const cases = (['length', 'chunked'] as const).flatMap(framing => door.sizes[framing].map(size => ({ size, framing })))
      await counted(door, 4, () => inParallel(cases, 4, async ({ size, framing }, index) => {
        const seed = 1_000_003 + size + index
        const problem = await exchange(door, bytesOf(size, seed), framing, agent, seed)
        if (problem !== undefined) problems.push(problem)
      }))
      expect(problems.sort()).toEqual([])
    }, 60_000)
  })

  // The connection was closed as malformed ("STDIN ended after 65535 of CONTENT_LENGTH 300000 bytes") and
  // nginx answered 502: the responder had stopped counting STDIN once the handler's stream was destroyed.
  for (const server of Object.keys(SERVERS) as NginxServer[]) {
    it(`a handler that stops reading a streamed body partway still answers, and what follows is whole (${SERVERS[server].label})`, async () => {
      const agent = keepAlive(1)
      for (const path of ['/stops-inline/upload', '/stops-warm/upload']) {
        const stopped = await post(urls[server] + path, bytesOf(300_000, 5), { framing: 'length', agent })
        expect(stopped.status, stopped.body.subarray(0, 200).toString()).toBe(200)
        expect(stopped.body.toString()).toMatch(/^read [1-9]\d* bytes, then stopped$/)
        const body = bytesOf(100_000, 6)
        expect(checkEcho({ reportsHash: true }, body, await post(`${urls[server]}/inline/echo`, body, { framing: 'length', agent }))).toBeUndefined()
      }
    })
  }

  it('nginx logged no upstream error', () => {
    expect(nginx.log()).not.toMatch(/upstream (prematurely|sent)|\[error\]|\[crit\]|\[alert\]/)
  })
})
