// Cold mode's runner: one process, one request, CGI/1.1 in and out (RFC 3875). It is also a plain
// CGI script: `node cold.runner.ts handler.ts` works under any CGI host (lighttpd's mod_cgi in the
// benchmark). Kept to what one request needs: every import here is start-up time of every request.
// Imports nothing from the gateway's main side (docs/architecture.md), only the handler-side modules.
import { installLightFetch } from '../../handler/install-fetch.ts'
import { createWebRequest, HANDLER_CALL, type HandlerCall } from '../../handler/invoke.ts'
import { takeFast } from '../../handler/light-response.ts'
import { PlainResponse } from '../../handler/plain-response.ts'
import { isResponse } from '../../handler/response-body.ts'
import { loadHandler } from '../../handler/load.ts'
import { HANDLER_OPTIONS_ENV, type HandlerOptions } from '../../handler/options.ts'
import { responseHeadProblem } from '../../handler/response-head.ts'
import type { HandlerContext, HandlerEnv } from '../../types.ts'

// process.getBuiltinModule, not `import … from 'node:…'`: an ESM import of a builtin builds a facade that
// reads every export, and fs's and util's lazy ones load streams, readline, workers… (~8 ms of each cold request).
const { closeSync, openSync, readSync, writeSync } = process.getBuiltinModule('node:fs')

// Exit codes the gateway maps to its error codes (cgi-exchange.ts RUNNER_EXIT), written with no output.
const EXIT_THREW = 70
const EXIT_RESULT = 71
const EXIT_LOAD = 72
const EXIT_INVALID = 73
// A Lambda handler's own failures (src/lambda/adapter.ts): 502s, as API Gateway answers them.
const EXIT_CODES: Readonly<Record<string, number>> = { WG_ERR_LAMBDA_THREW: 74, WG_ERR_LAMBDA_RESULT: 75 }

const env = process.env
const entry = process.argv[2]

/** One structured line on stderr that the gateway logs at `level` (cgi-exchange.ts RUNNER_LINE). */
function report (level: 'error' | 'warn' | 'info', msg: string, error?: unknown, fatal?: boolean): void {
  const stack = error instanceof Error ? error.stack : undefined
  try {
    writeSync(2, `@warmgate ${JSON.stringify({ level, msg, stack, fatal })}\n`)
  } catch {}
}

function fail (code: number, msg: string, error?: unknown): never {
  report('error', msg, error, true)
  process.exit(code)
}

/** RFC 3875 §4.1: the request as the meta-variables describe it. */
function requestFromEnvironment (): HandlerCall & { body: Uint8Array | null } {
  const headers: string[] = []
  for (const name in env) {
    // RFC 3875 §4.1.18: HTTP_* are the request's header fields, `-` written as `_`.
    if (name.startsWith('HTTP_')) headers.push(name.slice(5).toLowerCase().replaceAll('_', '-'), env[name] as string)
  }
  if (env.CONTENT_TYPE !== undefined && env.CONTENT_TYPE !== '') headers.push('content-type', env.CONTENT_TYPE)
  const length = Number(env.CONTENT_LENGTH ?? '')
  if (length > 0) headers.push('content-length', String(length))
  const scheme = env.HTTPS === 'on' ? 'https' : 'http'
  const host = env.HTTP_HOST ?? `${env.SERVER_NAME ?? 'localhost'}:${env.SERVER_PORT ?? '80'}`
  const query = env.QUERY_STRING ?? ''
  const target = env.REQUEST_URI ?? `${env.SCRIPT_NAME ?? ''}${env.PATH_INFO ?? ''}${query === '' ? '' : `?${query}`}`
  return {
    id: env.WARMGATE_REQUEST_ID ?? env.HTTP_X_REQUEST_ID ?? crypto.randomUUID(),
    method: env.REQUEST_METHOD ?? 'GET',
    url: `${scheme}://${host}${target}`,
    headers,
    body: length > 0 ? readBody(length) : null,
    connection: env.REMOTE_ADDR === undefined ? undefined : { remoteAddress: env.REMOTE_ADDR },
  }
}

/** RFC 3875 §4.2: exactly CONTENT_LENGTH bytes of stdin, read before the handler runs. */
function readBody (length: number): Uint8Array {
  const body = new Uint8Array(length)
  let offset = 0
  while (offset < length) {
    let n: number
    try {
      n = readSync(0, body, offset, length - offset, null)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      throw error
    }
    if (n === 0) break
    offset += n
  }
  return offset === length ? body : body.subarray(0, offset)
}

/** Sync writes: the process has nothing else to do, and a full pipe is the backpressure we want. */
function write (data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
  let offset = 0
  while (offset < bytes.byteLength) {
    try {
      offset += writeSync(1, bytes, offset)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      throw error
    }
  }
}

/** The CGI header block for `headers` (flat `[name, value, …]`). */
function head (response: { status: number, statusText: string }, headers: string[], length: number | undefined): string {
  // Each line below becomes a field of the gateway's response: a CR LF in a value (from a Response subclass's
  // `headers`) would start a field of its own. Checked before a byte is written; the same refusal warm and
  // inline give (WG_ERR_HANDLER_RESULT). Read once, so a getter cannot answer differently the second time.
  const { status, statusText } = response
  const problem = responseHeadProblem(status, statusText, headers)
  if (problem !== undefined) fail(EXIT_RESULT, `handler returned an invalid response head: ${problem}`)
  let text = `Status: ${status}${statusText === '' ? '' : ` ${statusText}`}\r\n`
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]
    // A body-less response keeps the length it declares (a HEAD answer: the length GET would have).
    if ((name === 'content-length' && length !== undefined) || name === 'transfer-encoding') continue
    text += `${name}: ${headers[i + 1]}\r\n`
  }
  if (length !== undefined) text += `content-length: ${length}\r\n`
  return `${text}\r\n`
}

/** A web Response's headers, flat (each Set-Cookie on its own, as iterating Headers gives them). */
function flatHeaders (response: Response): string[] {
  const flat: string[] = []
  for (const [name, value] of response.headers) flat.push(name, value)
  return flat
}

/**
 * Closes our end of stdout (a pipe or a socket: `process.stdout.end()` cannot shut a pipe) and puts
 * /dev/null in its place: open() takes the lowest free descriptor, 1, so a late console.log from
 * background work cannot land in a file opened afterwards.
 */
function closeStdout (): void {
  try {
    closeSync(1)
    openSync('/dev/null', 'w')
  } catch {}
}

async function main (): Promise<void> {
  if (entry === undefined) fail(64, 'usage: node cold.runner.ts <handler module>')
  // Before the handler is imported: a handler that only returns `new Response(text)` never loads undici (~22 ms).
  installLightFetch()
  let handler
  try {
    const options = env[HANDLER_OPTIONS_ENV] === undefined ? undefined : JSON.parse(env[HANDLER_OPTIONS_ENV]) as HandlerOptions
    handler = await loadHandler(entry, undefined, options, true)
  } catch (error) {
    fail((error as { code?: string }).code === 'WG_ERR_HANDLER_INVALID' ? EXIT_INVALID : EXIT_LOAD, (error as Error).message, (error as { cause?: unknown }).cause ?? error)
  }
  // Start-up check (ColdRuntime.start): the module loads and exports a handler; no request to serve.
  if (env.WARMGATE_CHECK === '1') {
    write('Status: 204 Loaded\r\n\r\n')
    process.exit(0)
  }

  const appEnv = JSON.parse(env.WARMGATE_APP_ENV ?? '{}') as HandlerEnv
  const call = requestFromEnvironment()
  // The headers as received, repeats apart (ColdRuntime sets it for apps that may be Lambda handlers).
  const raw = env.WARMGATE_RAW_HEADERS === undefined ? call : { ...call, headers: JSON.parse(env.WARMGATE_RAW_HEADERS) as string[] }
  for (const name of ['WARMGATE_APP_ENV', 'WARMGATE_REQUEST_ID', 'WARMGATE_RAW_HEADERS', HANDLER_OPTIONS_ENV]) delete env[name]

  // Every way out of this process is an explicit exit. Until then it stays: a handler whose promise (or
  // body stream) never settles leaves nothing on the event loop, and Node would exit 0 with nothing
  // written, a complete-looking empty answer. Held, it is stopped at the app's timeout (504), as in
  // the other modes.
  setInterval(noop, 0x7fffffff)

  // The gateway sends SIGTERM when the client leaves or the timeout passes: that is ctx.signal.
  const controller = new AbortController()
  process.once('SIGTERM', () => controller.abort(new Error('the gateway stopped this request (client gone or timeout)')))
  const pending: Promise<unknown>[] = []
  const ctx: HandlerContext & { [HANDLER_CALL]: HandlerCall } = {
    requestId: call.id,
    mode: 'cold',
    signal: controller.signal,
    waitUntil: (promise) => { pending.push(Promise.resolve(promise)) },
    [HANDLER_CALL]: raw,
  }

  let response: unknown
  try {
    response = await handler(createWebRequest(call, controller, true), appEnv, ctx)
  } catch (error) {
    const code = EXIT_CODES[(error as { code?: string })?.code ?? '']
    if (code !== undefined) fail(code, (error as Error).message, (error as { cause?: unknown }).cause ?? error)
    fail(EXIT_THREW, `handler threw: ${error instanceof Error ? error.message : String(error)}`, error)
  }
  if (!isResponse(response) && !(response instanceof PlainResponse)) fail(EXIT_RESULT, 'handler must return a Response')
  try {
    if (response instanceof PlainResponse) await writePlainResponse(response, call.method === 'HEAD')
    else await writeCgiResponse(response, call.method === 'HEAD')
  } catch (error) {
    // EPIPE: the gateway stopped reading (the client went away, or it asked for HEAD): not the handler's
    // fault, and the gateway logs the disconnect itself, so an info line, as it does for the other modes.
    if ((error as { code?: string })?.code === 'EPIPE') {
      report('info', 'the gateway stopped reading the response body (client gone): EPIPE')
      process.exit(EXIT_THREW)
    }
    // Past the head the gateway cannot answer with an error any more: the line (not fatal, so it is
    // logged with the request id) is all that says the body was cut short.
    report('error', `the response body failed mid-stream: ${(error as Error)?.message ?? String(error)}`, error)
    process.exit(EXIT_THREW)
  }

  if (pending.length > 0) {
    // The response is complete once stdout is closed; background work then runs to its end.
    closeStdout()
    for (const result of await Promise.allSettled(pending)) {
      if (result.status === 'rejected') report('error', `ctx.waitUntil promise rejected: ${(result.reason as Error)?.message ?? String(result.reason)}`, result.reason)
    }
  }
  process.exit(0)
}

/**
 * A body that is already complete is sent with its Content-Length, as the other modes do; one that
 * is still being produced is streamed as it comes (the gateway frames it), never buffered whole.
 */
async function writeCgiResponse (response: Response, isHead: boolean): Promise<void> {
  const fast = takeFast(response)
  if (fast !== undefined) {
    if (fast.body === null) return write(head(fast, fast.headers, undefined))
    const bytes = typeof fast.body === 'string' ? Buffer.from(fast.body, 'utf8') : fast.body
    write(head(fast, fast.headers, bytes.byteLength))
    if (!isHead) write(bytes)
    return
  }
  if (response.body === null) return write(head(response, flatHeaders(response), undefined))
  if (isHead) {
    const bytes = new Uint8Array(await response.arrayBuffer())
    return write(head(response, flatHeaders(response), bytes.byteLength))
  }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let read = reader.read()
  for (;;) {
    // A chunk that is not ready within one turn means the body is being produced: stop waiting.
    const next = await Promise.race([read, new Promise<null>(resolve => setImmediate(resolve, null))])
    if (next === null) break
    if (next.done) {
      write(head(response, flatHeaders(response), size))
      for (const chunk of chunks) write(chunk)
      return
    }
    chunks.push(next.value)
    size += next.value.byteLength
    read = reader.read()
  }
  write(head(response, flatHeaders(response), undefined))
  for (const chunk of chunks) write(chunk)
  for (;;) {
    const { done, value } = await read
    if (done) return
    write(value)
    read = reader.read()
  }
}

/** A Node-style app's answer (plain-response.ts): its header lines as the app set them; a stream body as it comes. */
async function writePlainResponse (response: PlainResponse, isHead: boolean): Promise<void> {
  const body = response.body
  if (body === null || body instanceof Uint8Array) {
    write(head(response, response.headers, body === null ? undefined : body.byteLength))
    if (body !== null && !isHead) write(body)
    return
  }
  write(head(response, response.headers, undefined))
  const reader = body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    write(value)
  }
}

function noop (): void {}

main().catch((error: unknown) => fail(EXIT_THREW, `cold runner failed: ${(error as Error)?.message ?? String(error)}`, error))
