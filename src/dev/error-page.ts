import { fileURLToPath } from 'node:url'
import type { AppKind } from '../config/define.ts'
import { BaseRuntime } from '../runtime/runtime.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'

/** Where a load failure points: the app's own file and line, when the stack names one. */
export interface LoadFailure {
  message: string
  file?: string
  line?: number
  column?: number
  stack: string
}

// V8's SyntaxError header (`/path/app.ts:2` ending a line; after "Caused by: " when it crossed from a worker) and stack frames (`at … (file:///x.ts:2:7)`).
const HEADER = /((?:file:\/\/)?\/[^\s:]+):(\d+)$/gm
const FRAME = /\(?((?:file:\/\/)?\/[^\s():]+):(\d+):(\d+)\)?/g

/**
 * Turns the error of a failed load into what the terminal and the error page show. `ownFiles` are the
 * app's files (its import graph): the first place in the stack that is one of them wins, so the line
 * shown is the user's, not warmgate's loader.
 */
export function describeLoadFailure (error: unknown, ownFiles: ReadonlySet<string>): LoadFailure {
  const chain: Error[] = []
  for (let e: unknown = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e)
  const innermost = chain.at(-1)
  const message = innermost?.message ?? String(error)
  const stack = chain.map(e => e.stack ?? e.message).join('\nCaused by: ')
  const places: Array<{ file: string, line: number, column?: number, index: number }> = []
  for (const m of stack.matchAll(HEADER)) places.push({ file: toPath(m[1]), line: Number(m[2]), index: m.index })
  for (const m of stack.matchAll(FRAME)) places.push({ file: toPath(m[1]), line: Number(m[2]), column: Number(m[3]), index: m.index })
  places.sort((a, b) => a.index - b.index)
  const place = places.find(p => ownFiles.has(p.file))
  return { message, stack, file: place?.file, line: place?.line, column: place?.column }
}

/** `/abs/app.ts:2` or, when the stack names none of the app's files, undefined. */
export function formatPlace (failure: LoadFailure): string | undefined {
  return failure.file === undefined ? undefined : `${failure.file}:${String(failure.line)}${failure.column === undefined ? '' : `:${failure.column}`}`
}

function toPath (where: string): string {
  // A reload imports under `?warmgate-reload=N`: the stack names that URL, the watcher the plain path.
  return where.startsWith('file:') ? fileURLToPath(where.split('?')[0]) : where.split('?')[0]
}

/**
 * The runtime a dev server mounts in place of an app whose module does not load: every request gets a
 * 500 page naming the error and its file:line, JSON when the client's Accept prefers it, HTML otherwise.
 * A later save that loads replaces it through the same table swap as any reload.
 */
export class ErrorPageRuntime extends BaseRuntime {
  readonly mode: AppKind
  readonly streamsRequestBody = false
  readonly #failure: LoadFailure
  readonly #app: string

  constructor (app: string, mode: AppKind, failure: LoadFailure) {
    super()
    this.#app = app
    this.mode = mode
    this.#failure = failure
  }

  protected async onStart (): Promise<void> {}
  protected async onClose (): Promise<void> {}
  protected async onDestroy (): Promise<void> {}

  protected async onDispatch (req: GatewayRequest, _signal: AbortSignal, started: () => void): Promise<GatewayResponse> {
    started()
    const f = this.#failure
    if (prefersJson(req.headers)) {
      const body = JSON.stringify({ error: 'WG_ERR_HANDLER_LOAD', app: this.#app, message: f.message, file: f.file ?? null, line: f.line ?? null, column: f.column ?? null, stack: f.stack, requestId: req.id })
      return page(body, 'application/json; charset=utf-8')
    }
    const where = formatPlace(f)
    const html = `<!doctype html><meta charset="utf-8"><title>${esc(this.#app)}: failed to load</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#222}h1{color:#b00020;font-size:1.3rem}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style>
<h1>${esc(this.#app)} failed to load</h1>
<p><strong>${esc(f.message)}</strong></p>
${where === undefined ? '' : `<p>at <code>${esc(where)}</code></p>`}
<pre>${esc(f.stack)}</pre>
<p>warmgate dev serves this page until a save makes the module load again (request ${esc(req.id)}).</p>
`
    return page(html, 'text/html; charset=utf-8')
  }
}

function page (body: string, type: string): GatewayResponse {
  return { status: 500, statusText: 'Internal Server Error', headers: ['content-type', type, 'cache-control', 'no-store'], body: new TextEncoder().encode(body) }
}

/**
 * RFC 9110 §12.5.1: JSON when the Accept header ranks application/json (or a +json type) above
 * text/html; a browser's Accept ranks text/html first, a missing Accept gets HTML.
 */
export function prefersJson (headers: readonly string[]): boolean {
  let accept = ''
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === 'accept') accept += `${accept === '' ? '' : ','}${headers[i + 1]}`
  let json = -1
  let html = -1
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    const q = Number(params.map(p => p.trim()).find(p => p.startsWith('q='))?.slice(2) ?? '1')
    if (type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type)) json = Math.max(json, q)
    if (type === 'text/html') html = Math.max(html, q)
  }
  return json > 0 && json > html
}

function esc (text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}
