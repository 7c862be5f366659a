import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { installDevRoutes } from '../../src/dev/dev-routes.ts'
import { serveLoadFailures, type DevOutput } from '../../src/dev/dev-server.ts'
import { LiveReload, setLiveReload } from '../../src/dev/live-reload.ts'
import type { Gateway } from '../../src/index.ts'
import { startGateway, within } from '../helpers/gateway.ts'

// The pieces `warmgate dev` puts around a gateway, in-process: the dev listener (the version endpoint
// under the configured admin prefix, the route list at `/`) and GatewayOptions.onLoadFailure.

const DIR = mkdtempSync(join(tmpdir(), 'wg-dev-routes-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))
const open: Gateway[] = []
afterEach(async () => {
  setLiveReload(undefined)
  for (const gateway of open.splice(0)) await within(10_000, 'closing the gateway', gateway.close())
})

writeFileSync(join(DIR, 'ok.ts'), "export default () => new Response('ok')\n")
writeFileSync(join(DIR, 'broken.ts'), "const a = 1\nif (a === 1) throw new Error('broken at import')\nexport default () => new Response('x')\n")

async function fetchText (url: string, options: { method?: string, accept?: string } = {}): Promise<{ status: number, body: string, headers: Record<string, unknown> }> {
  const res = await within(10_000, `${options.method ?? 'GET'} ${url}`, request(url, { method: options.method as 'GET' | undefined, headers: options.accept === undefined ? {} : { accept: options.accept } }))
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

describe('dev routes and load failures, in-process', () => {
  it('serves the version under a configured admin prefix (GET and HEAD only), pages point there, and other admin paths still work', async () => {
    const { gateway, url } = await startGateway({ server: { adminPrefix: '/__ops' }, apps: { ok: { route: '/ok', entry: join(DIR, 'ok.ts'), mode: 'inline' } } })
    open.push(gateway)
    const live = new LiveReload(() => gateway.config.server.ops.adminPrefix)
    setLiveReload(live)
    installDevRoutes(gateway, live)
    const first = await fetchText(`${url}/__ops/dev/version`)
    expect(first.status).toBe(200)
    expect(first.headers['cache-control']).toBe('no-store')
    expect(JSON.parse(first.body)).toEqual({ instance: live.instance, version: 0 })
    live.bump()
    expect(JSON.parse((await fetchText(`${url}/__ops/dev/version?t=1`)).body)).toEqual({ instance: live.instance, version: 1 })
    expect((await fetchText(`${url}/__ops/dev/version`, { method: 'POST' })).status).toBe(405)
    expect((await fetchText(`${url}/__warmgate/dev/version`)).status).toBe(404)
    expect((await fetchText(`${url}/__ops/health`)).status).toBe(200)
    const page = await fetchText(`${url}/`)
    expect(page.status).toBe(404)
    expect(page.body).toContain('const url = "/__ops/dev/version"')
    // Not GET: the gateway's own 404.
    expect((await fetchText(`${url}/`, { method: 'POST' })).body).toMatch(/^404 Not Found/)
    expect((await fetchText(`${url}/ok`)).body).toBe('ok')
  })

  it('onLoadFailure: createGateway starts with an app that throws at import, serves its error page and the other app, and lists it as failed at /', async () => {
    const lines: string[] = []
    const out: DevOutput = { info: line => lines.push(line), error: line => lines.push(line), reloaded: () => {} }
    const { gateway, url } = await startGateway({
      apps: {
        ok: { route: '/ok', entry: join(DIR, 'ok.ts'), workers: { min: 1, max: 1 } },
        broken: { route: '/broken', entry: join(DIR, 'broken.ts'), workers: { min: 1, max: 1 } },
      },
    }, { exposeErrors: true, onLoadFailure: serveLoadFailures(out) })
    open.push(gateway)
    installDevRoutes(gateway, new LiveReload(() => gateway.config.server.ops.adminPrefix))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^✖ broken failed to load at ${join(DIR, 'broken.ts')}:2:\\d+: broken at import\\n`))
    const page = await fetchText(`${url}/broken`, { accept: 'application/json' })
    expect(page.status).toBe(500)
    expect(JSON.parse(page.body)).toMatchObject({ error: 'WG_ERR_HANDLER_LOAD', app: 'broken', message: 'broken at import', file: join(DIR, 'broken.ts'), line: 2 })
    expect((await fetchText(`${url}/ok`)).body).toBe('ok')
    const routes = JSON.parse((await fetchText(`${url}/`, { accept: 'application/json' })).body) as { routes: Array<{ app: string, loadError: string | null }> }
    expect(routes.routes.map(r => [r.app, r.loadError])).toEqual([['ok', null], ['broken', 'broken at import']])
  })

  it('without onLoadFailure (warmgate start), an app that throws at import still fails createGateway', async () => {
    await expect(startGateway({ apps: { broken: { route: '/broken', entry: join(DIR, 'broken.ts'), workers: { min: 1, max: 1 } } } })).rejects.toMatchObject({ code: 'WG_ERR_HANDLER_LOAD' })
  })
})
