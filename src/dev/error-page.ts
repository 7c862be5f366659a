import type { AppKind } from '../config/define.ts'
import { BaseRuntime, type SignalSource } from '../runtime/runtime.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'
import { messageOf, parseStack, renderErrorPage, toPath } from './error-view.ts'

export { prefersJson } from './error-view.ts'

/** Where a load failure points: the app's own file and line, when the stack names one. */
export interface LoadFailure {
  /** The failure's WG_ERR_ code (WG_ERR_HANDLER_LOAD, WG_ERR_HANDLER_INVALID, …). */
  code: string
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
  const stack = chain.length === 0 ? String(error) : chain.map(e => e.stack ?? e.message).join('\nCaused by: ')
  // The innermost error is the user's; from a worker thread it arrives as text, inside the stack.
  const innermost = parseStack(stack)[0]
  const message = innermost === undefined || innermost.header === '' ? (chain.at(-1)?.message ?? String(error)) : messageOf(innermost.header)
  const places: Array<{ file: string, line: number, column?: number, index: number }> = []
  for (const m of stack.matchAll(HEADER)) places.push({ file: toPath(m[1]), line: Number(m[2]), index: m.index })
  for (const m of stack.matchAll(FRAME)) places.push({ file: toPath(m[1]), line: Number(m[2]), column: Number(m[3]), index: m.index })
  places.sort((a, b) => a.index - b.index)
  // toPath: a reload imports under `?warmgate-reload=N`; the stack names that URL, the graph the plain path.
  const place = places.find(p => ownFiles.has(p.file))
  const code = (error as { code?: unknown })?.code
  return { code: typeof code === 'string' && code.startsWith('WG_ERR_') ? code : 'WG_ERR_HANDLER_LOAD', message, stack, file: place?.file, line: place?.line, column: place?.column }
}

/** `/abs/app.ts:2` or, when the stack names none of the app's files, undefined. */
export function formatPlace (failure: LoadFailure): string | undefined {
  return failure.file === undefined ? undefined : `${failure.file}:${String(failure.line)}${failure.column === undefined ? '' : `:${failure.column}`}`
}

/**
 * The runtime a dev server mounts in place of an app whose module does not load: every request gets a
 * 500 error page (error-view.ts) naming the error and its file:line, JSON when the client's Accept
 * prefers it, HTML otherwise. A later save that loads replaces it through the same table swap as any reload.
 */
export class ErrorPageRuntime extends BaseRuntime {
  readonly mode: AppKind
  readonly streamsRequestBody = false
  readonly failure: LoadFailure
  readonly #app: string

  constructor (app: string, mode: AppKind, failure: LoadFailure) {
    super()
    this.#app = app
    this.mode = mode
    this.failure = failure
  }

  protected async onStart (): Promise<void> {}
  protected async onClose (): Promise<void> {}
  protected async onDestroy (): Promise<void> {}

  protected async onDispatch (req: GatewayRequest, _abort: SignalSource, started: () => void): Promise<GatewayResponse> {
    started()
    const f = this.failure
    const { body, type } = renderErrorPage({
      status: 500,
      code: f.code,
      app: this.#app,
      title: `${this.#app} failed to load`,
      message: f.message,
      file: f.file,
      line: f.line,
      column: f.column,
      stack: f.stack,
      note: 'warmgate dev serves this page until a save makes the module load again; it reloads itself then.',
    }, req)
    return { status: 500, statusText: 'Internal Server Error', headers: ['content-type', type, 'cache-control', 'no-store'], body: new TextEncoder().encode(body) }
  }
}
