import { readFileSync } from 'node:fs'
import { isAbsolute, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ErrorCode } from '../errors.ts'
import { errorResponse } from '../gateway/error-response.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'
import { liveReloadScript } from './live-reload.ts'

// The error page of `warmgate dev` (GatewayOptions.exposeErrors), one look for a module that fails to load
// (error-page.ts) and for a handler that fails at run time (mounted-app.ts): the message, where in the
// user's code, a few lines of that code, and the stack with the user's own frames first and the frames of
// Node, of packages and of warmgate itself dimmed. HTML for browsers, JSON when Accept prefers it.

/** warmgate's own code: its sources (src/) when run from a clone, its build (dist/) when installed. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OWN = [join(ROOT, 'src') + sep, join(ROOT, 'dist') + sep]
const NODE_MODULES = `${sep}node_modules${sep}`

export interface StackFrame {
  /** The line as V8 wrote it, without its indentation: `at handler (file:///app/x.ts:3:9)`. */
  text: string
  file?: string
  line?: number
  column?: number
  /** Node's own code, a package's, warmgate's, or no file at all (`<anonymous>`, `native`). */
  internal: boolean
}

/** One error of a cause chain: its header (`TypeError: boom`, or V8's SyntaxError excerpt) and its frames. */
export interface StackBlock {
  header: string
  frames: StackFrame[]
}

/**
 * Parses a stack text (`Caused by: ` chains included, as errors from worker threads arrive) into its
 * errors, innermost first: the error a handler threw comes before the GatewayError that reported it.
 * Each error's frames are in V8's order; `internal` says which ones are not the user's.
 */
export function parseStack (stack: string): StackBlock[] {
  return stack.split(/\nCaused by: /).slice(-10).reverse().map((part) => {
    const header: string[] = []
    const frames: StackFrame[] = []
    for (const line of part.split('\n')) {
      const frame = /^\s+at (.+)$/.exec(line)
      if (frame === null) {
        if (frames.length === 0) header.push(line)
        continue
      }
      frames.push(parseFrame(frame[1]))
    }
    return { header: header.join('\n').trimEnd(), frames }
  })
}

function parseFrame (text: string): StackFrame {
  // `fn (location)` or a bare `location`; `async` marks an awaited caller.
  const open = text.endsWith(')') ? text.lastIndexOf(' (') : -1
  const location = (open === -1 ? text : text.slice(open + 2, -1)).replace(/^async /, '')
  const place = /^(.*):(\d+):(\d+)$/.exec(location)
  if (place === null) return { text: `at ${text}`, internal: true }
  const file = toPath(place[1])
  return { text: `at ${text}`, file, line: Number(place[2]), column: Number(place[3]), internal: isInternal(file) }
}

/** `file:///x.ts?warmgate-reload=3` and `/x.ts` alike: the path on disk, without the reload query. */
export function toPath (where: string): string {
  const path = where.split('?')[0]
  return path.startsWith('file:') ? fileURLToPath(path) : path
}

function isInternal (file: string): boolean {
  // `node:internal/…`, `node:fs`, `evalmachine.<anonymous>`: not a path of the user's.
  if (!isAbsolute(file)) return true
  return file.includes(NODE_MODULES) || OWN.some(dir => file.startsWith(dir))
}

/**
 * The message in an error's stack header: V8 writes `Name: message` (after the source excerpt of a
 * SyntaxError); a header without such a line is the message itself.
 */
export function messageOf (header: string): string {
  const named = /^[\w$.]*(?:Error|Exception)(?: \[[\w-]+\])?: /m.exec(header)
  return named === null ? header : header.slice(named.index + named[0].length)
}

/** The first frame of the user's own code, innermost error first: where the page points. */
export function firstUserFrame (blocks: readonly StackBlock[]): StackFrame | undefined {
  for (const block of blocks) for (const frame of block.frames) if (!frame.internal) return frame
  return undefined
}

export interface ErrorView {
  status: number
  code: string
  app: string
  /** The page's heading: `hello failed to load`, `hello failed on GET /x`. */
  title: string
  /** The error's message alone (JSON `message`). */
  message: string
  /** Where in the user's code, when the stack names a place there. */
  file?: string
  line?: number
  column?: number
  /** The stack text as received (JSON `stack`); shown parsed, user frames first. */
  stack: string
  /** One sentence under the page: what serves it and until when. */
  note: string
}

/** The page for `view`, in the form the request's Accept asks for. */
export function renderErrorPage (view: ErrorView, req: GatewayRequest): { body: string, type: string } {
  const blocks = parseStack(view.stack)
  if (prefersJson(req.headers)) {
    const frames = blocks.flatMap(block => userFirst(block.frames)).map(f => ({ at: f.text, file: f.file ?? null, line: f.line ?? null, column: f.column ?? null, internal: f.internal }))
    const body = JSON.stringify({ error: view.code, status: view.status, app: view.app, message: view.message, file: view.file ?? null, line: view.line ?? null, column: view.column ?? null, stack: view.stack, frames, requestId: req.id })
    return { body, type: 'application/json; charset=utf-8' }
  }
  const where = view.file === undefined ? undefined : `${view.file}:${String(view.line)}${view.column === undefined ? '' : `:${view.column}`}`
  const headline = blocks[0] === undefined || blocks[0].header === '' ? view.message : blocks[0].header
  const html = `<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(view.title)}</title>
<style>${STYLE}</style>
<header><h1>${esc(view.title)}</h1><p>${view.status} · ${esc(view.code)} · ${esc(requestLine(req))}</p></header>
<main>
<pre class="message">${esc(headline)}</pre>
${where === undefined ? '' : `<p class="where">at <code>${esc(where)}</code></p>\n${excerpt(view.file as string, view.line as number)}`}
<h2>Stack <small>your code first; Node, packages and warmgate dimmed</small></h2>
<pre class="stack">${blocks.map((block, i) => renderBlock(block, i)).join('\n\n')}</pre>
</main>
<footer>${esc(view.note)} Request ${esc(req.id)}.</footer>
${liveReloadScript()}
`
  return { body: html, type: 'text/html; charset=utf-8' }
}

/** A stable partition: the user's frames (in V8's order), then the others. */
function userFirst (frames: readonly StackFrame[]): StackFrame[] {
  return [...frames.filter(f => !f.internal), ...frames.filter(f => f.internal)]
}

function renderBlock (block: StackBlock, index: number): string {
  // The errors that wrapped the user's (warmgate's "handler threw") say nothing new when none of their frames is the user's.
  const own = block.frames.some(f => !f.internal)
  const header = `${index === 0 ? '' : 'wrapped by: '}${esc(block.header)}`
  const frames = userFirst(block.frames).map(f => `  <span class="${f.internal ? 'internal' : 'user'}">${esc(f.text)}</span>`)
  return [index === 0 || own ? header : `<span class="internal">${header}</span>`, ...frames].join('\n')
}

/** Lines around `line` of `file`, that one marked; nothing when the file cannot be read. */
function excerpt (file: string, line: number): string {
  let lines: string[]
  try {
    lines = readFileSync(file, 'utf8').split(/\r?\n/)
  } catch {
    return ''
  }
  if (line < 1 || line > lines.length) return ''
  const from = Math.max(1, line - 3)
  const to = Math.min(lines.length, line + 2)
  const width = String(to).length
  const rows: string[] = []
  for (let n = from; n <= to; n++) {
    const text = `${String(n).padStart(width)} │ ${lines[n - 1].slice(0, 300)}`
    rows.push(n === line ? `<mark>${esc(text)}</mark>` : esc(text))
  }
  return `<pre class="source">${rows.join('\n')}</pre>`
}

function requestLine (req: GatewayRequest): string {
  let path = req.url
  try {
    const url = new URL(req.url)
    path = url.pathname + url.search
  } catch {}
  return `${req.method} ${path}`
}

/**
 * The answer of a `warmgate dev` gateway (MountedApp with exposeErrors) to a request whose handler or
 * runtime failed with a 5xx: the error page instead of the generic body, with the same status, status
 * text and error code (MountedApp adds Retry-After where it would).
 */
export function devErrorResponse (code: ErrorCode, req: GatewayRequest, app: string, error: unknown): GatewayResponse {
  const res = errorResponse(code, req.id)
  const stack = describeError(error)
  const blocks = parseStack(stack)
  const place = firstUserFrame(blocks)
  const message = messageOf(blocks[0]?.header ?? '')
  const view: ErrorView = {
    status: res.status,
    code,
    app,
    title: `${app} failed on ${requestLine(req)}`,
    message,
    file: place?.file,
    line: place?.line,
    column: place?.column,
    stack,
    note: 'warmgate dev shows this page (warmgate start answers a generic body); it reloads itself after your next save.',
  }
  const { body, type } = renderErrorPage(view, req)
  return { ...res, headers: ['content-type', type, 'cache-control', 'no-store'], body: new TextEncoder().encode(body) }
}

/** The error, and the handler's own error under it, as one stack text (`Caused by: ` between them). */
function describeError (error: unknown): string {
  const text = (value: unknown): string => value instanceof Error ? (value.stack ?? `${value.name}: ${value.message}`) : String(value)
  const chain: string[] = []
  for (let e: unknown = error; e !== undefined && chain.length < 5; e = e instanceof Error ? e.cause : undefined) chain.push(text(e))
  return chain.join('\nCaused by: ')
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

export function esc (text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/** Shared with the route list of `GET /` (dev-routes.ts). */
export const STYLE = `
:root{color-scheme:light dark;--fg:#1f2328;--dim:#8c959f;--bg:#fff;--code:#f6f8fa;--bar:#b00020;--mark:#ffebe9}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--dim:#6e7681;--bg:#0d1117;--code:#161b22;--bar:#8e1519;--mark:#4b1d1d}}
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{background:var(--bar);color:#fff;padding:1rem 2rem}
header h1{margin:0;font-size:1.25rem;font-weight:600}
header p{margin:.2rem 0 0;font:13px ui-monospace,SFMono-Regular,Menlo,monospace;opacity:.85}
main{padding:1rem 2rem}
h2{font-size:1rem;margin:1.5rem 0 .5rem}h2 small{font-weight:400;color:var(--dim)}
pre{background:var(--code);padding:.75rem 1rem;overflow:auto;border-radius:6px;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}
pre.message{background:none;padding:0;font-size:1.05rem;font-weight:600;white-space:pre-wrap}
mark{background:var(--mark);color:inherit;display:inline-block;min-width:100%}
.internal{color:var(--dim)}.user{font-weight:600}
table{border-collapse:collapse}td,th{text-align:left;padding:.3rem 1.2rem .3rem 0;border-bottom:1px solid var(--code)}
td code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}.failed{color:#d1242f}
footer{color:var(--dim);font-size:.85rem;padding:0 2rem 2rem}`
