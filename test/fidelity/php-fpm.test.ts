import { mkdtempSync, rmSync } from 'node:fs'
import type { Agent } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PHP_FPM, PHP_ROOT, phpFpm, type PhpFpm } from '../fastcgi-client/php-fpm.ts'
import { freePort, NGINX, NGINX_FASTCGI_PARAMS, startNginx, type WebServer } from '../front/web-servers.ts'
import { startGateway, within, type Started } from '../helpers/gateway.ts'
import { agents, bytesOf, echoProblem, type Framing, inParallel, post, postViaFetch, SIZES, seededOptions } from './support.ts'

// warmgate's FastCGI client (a `fastcgi` app) → a real php-fpm → test/fixtures/php/echo-raw.php: every
// request body reaches PHP's php://input whole, whatever its size, framing and split, and comes back
// byte for byte. PHP's own hash and length of what it read come back as headers and are checked against
// the client's; the echo against what was sent. Sizes: support.ts SIZES (php-fpm.ts allows 32M posts).

if (PHP_FPM === undefined) console.warn('[fidelity: php-fpm] skipped: no php-fpm binary (/usr/sbin/php-fpm*); install php-fpm to run it')
if (PHP_FPM !== undefined && NGINX === undefined) console.warn('[fidelity: php-fpm] the door through nginx is skipped: no nginx binary (/usr/sbin/nginx)')

const SCRIPT = '/php/echo-raw.php'

interface Door {
  name: string
  /** The client's request goes to nginx, which passes it to the gateway's FastCGI responder. */
  viaNginx?: boolean
  /** Bodies are sent through gateway.fetch instead of a socket. */
  viaFetch?: boolean
  framings: readonly Framing[]
}

const DOORS: Door[] = [
  // A Content-Length body past 64 KiB goes on to php-fpm as STDIN while it arrives; a chunked one is read whole first (CONTENT_LENGTH).
  { name: 'HTTP front door → php-fpm', framings: ['length', 'chunked'] },
  // gateway.fetch reads every body whole (fetch-adapter.ts): a chunked one would reach the app as the
  // same bytes as a Content-Length one (and request-body.test.ts covers that read for every size).
  { name: 'gateway.fetch → php-fpm', viaFetch: true, framings: ['length'] },
  // nginx with fastcgi_request_buffering off → the responder → php-fpm: the responder's STDIN stream is
  // what the client copies to php-fpm (Content-Length), or what it reads whole first (chunked: no CONTENT_LENGTH).
  { name: 'nginx (fastcgi_request_buffering off) → the FastCGI responder → php-fpm', viaNginx: true, framings: ['length', 'chunked'] },
]

describe.skipIf(PHP_FPM === undefined)('request bodies reach php-fpm byte for byte', () => {
  let fpm: PhpFpm
  let started: Started
  let nginx: WebServer | undefined
  let dir: string
  let nginxUrl = ''
  const { keepAlive, destroy } = agents()

  beforeAll(async () => {
    fpm = phpFpm({ children: 4 })
    await fpm.start()
    started = await within(30_000, 'starting the gateway', startGateway({
      server: { bodyLimit: '16mb', ...(NGINX === undefined ? {} : { fastcgi: { listen: '127.0.0.1:0' } }) },
      apps: { php: { route: '/php', fastcgi: `unix:${fpm.socket}`, root: PHP_ROOT, timeout: '30s', bodyLimit: '16mb', maxConnections: 4 } },
    }))
    if (NGINX !== undefined) {
      dir = mkdtempSync(join(tmpdir(), 'wg-fidelity-php-nginx-'))
      const [ready, port] = [await freePort(), await freePort()]
      nginxUrl = `http://127.0.0.1:${port}`
      nginx = await within(15_000, 'starting nginx', startNginx(join(dir, 'nginx'), ready, [
        '  client_max_body_size 32m;',
        `  server { listen 127.0.0.1:${port}; location / { ${NGINX_FASTCGI_PARAMS} fastcgi_request_buffering off; fastcgi_buffering off; fastcgi_pass ${started.gateway.fastcgiStats()?.address as string}; } }`,
      ].join('\n')))
    }
  }, 30_000)

  afterAll(async () => {
    destroy()
    await nginx?.stop()
    await within(20_000, 'closing the gateway', started?.gateway.close())
    await fpm?.dispose()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }, 30_000)

  async function exchange (door: Door, body: Buffer, framing: Framing, agent: Agent, seed: number): Promise<string | undefined> {
    const options = seededOptions(body, framing, agent, seed)
    const res = door.viaFetch === true
      ? await postViaFetch(started.gateway, SCRIPT, body, options)
      : await post((door.viaNginx === true ? nginxUrl : started.url) + SCRIPT, body, options)
    return echoProblem(body, framing, seed, res)
  }

  // Named in full: describe.each would cut a long $name short in the test's own name.
  for (const door of DOORS) {
    describe.skipIf(door.viaNginx === true && NGINX === undefined)(door.name, () => {
      for (const framing of door.framings) {
        it(`every size with ${framing === 'length' ? 'Content-Length' : 'chunked framing, written in pieces with pauses'}, one after another on one keep-alive connection`, async () => {
          const agent = keepAlive(1)
          const problems: string[] = []
          for (const [index, size] of SIZES.entries()) {
            const seed = size * 7 + index + (framing === 'chunked' ? 1 : 0)
            const problem = await exchange(door, bytesOf(size, seed), framing, agent, seed)
            if (problem !== undefined) problems.push(problem)
          }
          expect(problems).toEqual([])
        }, 60_000)
      }

      it(`every size with ${door.framings.length === 2 ? 'both framings' : 'Content-Length'}, four at a time on keep-alive connections`, async () => {
        const agent = keepAlive(4)
        const problems: string[] = []
        const cases = SIZES.flatMap(size => door.framings.map(framing => ({ size, framing })))
        await inParallel(cases, 4, async ({ size, framing }, index) => {
          const seed = 1_000_003 + size + index
          const problem = await exchange(door, bytesOf(size, seed), framing, agent, seed)
          if (problem !== undefined) problems.push(problem)
        })
        expect(problems.sort()).toEqual([])
      }, 60_000)
    })
  }

  it('php-fpm logged no warning or error', () => {
    expect(fpm.log()).not.toMatch(/WARNING|ERROR|PHP (Warning|Fatal|Notice)/)
  })

  it.skipIf(NGINX === undefined)('nginx logged no upstream error', () => {
    expect(nginx?.log()).not.toMatch(/upstream (prematurely|sent)|\[error\]|\[crit\]|\[alert\]/)
  })
})
