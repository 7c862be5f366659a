import type { IncomingMessage, ServerResponse } from 'node:http'
import { relative } from 'node:path'
import type { AppTable } from '../gateway/app-table.ts'
import { appTableOf, listeningServerOf, type Gateway } from '../gateway/gateway.ts'
import { ErrorPageRuntime } from './error-page.ts'
import { esc, prefersJson, STYLE } from './error-view.ts'
import type { LiveReload } from './live-reload.ts'

/**
 * What `warmgate dev` answers itself, before the gateway's own listener sees the request:
 * - `<adminPrefix>/dev/version`: the live-reload counter its pages poll (live-reload.ts);
 * - `GET /` when no app is routed at `/`: 404 still, but with the route table (HTML, or JSON when
 *   Accept prefers it) instead of a bare body.
 * Every other request goes to `next` untouched. `warmgate start` never installs this.
 */
export function createDevListener (gateway: Gateway, live: LiveReload, next: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  const table = appTableOf(gateway)
  return function onDevRequest (req, res) {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const path = query === -1 ? url : url.slice(0, query)
    if (path === live.path) return answerVersion(req, res, live)
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD') && table.router.match('/') === undefined) return answerRoutes(req, res, table, live)
    next(req, res)
  }
}

/** Puts the dev listener in front of the gateway's on the server `gateway.listen()` opened. */
export function installDevRoutes (gateway: Gateway, live: LiveReload): void {
  const server = listeningServerOf(gateway)
  if (server === undefined) throw new Error('installDevRoutes: the gateway does not listen')
  server.removeListener('request', gateway.handler)
  server.on('request', createDevListener(gateway, live, gateway.handler))
}

function answerVersion (req: IncomingMessage, res: ServerResponse, live: LiveReload): void {
  req.resume()
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{"error":"method not allowed"}')
    return
  }
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(live.json())
}

interface Row { route: string, app: string, mode: string, entry: string, loadError: string | null }

function answerRoutes (req: IncomingMessage, res: ServerResponse, table: AppTable, live: LiveReload): void {
  req.resume()
  const rows: Row[] = table.apps.map(({ config, runtime }) => ({
    route: config.route,
    app: config.name,
    mode: config.mode,
    entry: config.entry,
    loadError: runtime instanceof ErrorPageRuntime ? runtime.failure.message : null,
  }))
  const message = 'no app is routed at /'
  if (prefersJson(req.rawHeaders)) {
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify({ error: 'WG_ERR_NOT_FOUND', message, routes: rows }))
    return
  }
  const cells = rows.map(row => `<tr><td><a href="${esc(row.route)}"><code>${esc(row.route)}</code></a></td><td>${esc(row.app)}</td><td>${esc(row.mode)}</td>` +
    `<td><code title="${esc(row.entry)}">${esc(relative(process.cwd(), row.entry) || row.entry)}</code>${row.loadError === null ? '' : ` <span class="failed">failed to load: ${esc(row.loadError)}</span>`}</td></tr>`)
  const html = `<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>warmgate dev: routes</title>
<style>${STYLE}header{background:#24292f}</style>
<header><h1>warmgate dev</h1><p>404 · ${esc(message)}</p></header>
<main>
<p>These routes are served:</p>
<table><thead><tr><th>Route</th><th>App</th><th>Mode</th><th>Entry</th></tr></thead>
<tbody>
${cells.join('\n')}
</tbody></table>
</main>
<footer>warmgate dev shows this page (warmgate start answers a bare 404); it reloads itself when the config changes.</footer>
${live.script()}
`
  res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html)
}
