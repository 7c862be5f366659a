/**
 * Incremental parser for the head of a CGI response (RFC 3875 §6). Pure: the caller feeds it the
 * script's stdout chunk by chunk, in any split, and gets one outcome: a checked head plus the body
 * bytes that arrived with it, or a failure reason (which the caller answers with a 502 that never
 * echoes script output). After an outcome the caller streams the rest of stdout itself.
 */

/** Why a CGI response cannot be turned into an HTTP response. */
export type CgiResponseFailureReason =
  /** The script ended without writing a single byte. */
  | 'empty-output'
  /**
   * Output ended before the blank line that ends the header block, or the block holds no well-formed
   * field (every line was dropped: a CR or NUL in a value, a bad name, no colon).
   */
  | 'no-header-block'
  /** The header block (including its terminating blank line) is longer than the cap. */
  | 'header-too-large'
  /** `Status:` is not a 3-digit code in 100–599 with an optional reason phrase, or appears twice. */
  | 'bad-status'
  /** A response that carries a body has no `Content-Type`. */
  | 'no-content-type'

/** A header line that was not passed on, for the caller to log. */
export interface CgiDroppedHeader {
  readonly reason: 'malformed-line' | 'invalid-name' | 'invalid-value' | 'invalid-content-length' | 'hop-by-hop'
  /** The raw line, decoded as latin1. */
  readonly line: string
}

export interface CgiResponseHead {
  status: number
  /** Reason phrase from `Status:`; empty when the script gave none. */
  statusText: string
  /** Flat `[name, value, …]`, in script order, only headers safe to hand to Node's `setHeader`. */
  headers: string[]
  /** The script's `Content-Length` (also kept in `headers`), so the caller can detect a short body. */
  contentLength: number | null
  /** RFC 3875 §6.2.2: set when the caller must re-dispatch this path (and query) as a GET. */
  localRedirect?: string
  dropped: CgiDroppedHeader[]
}

export type CgiResponseOutcome =
  | { ok: true, head: CgiResponseHead, body: Uint8Array }
  | { ok: false, reason: CgiResponseFailureReason, message: string }

export interface CgiResponseParser {
  /** Feeds stdout bytes; returns the outcome once it is known, else `null`. Call no more after an outcome. */
  push (chunk: Uint8Array): CgiResponseOutcome | null
  /** Stdout ended; returns the outcome (a body-less head may only settle here, see `createCgiResponseParser`). */
  end (): CgiResponseOutcome
}

export const DEFAULT_MAX_CGI_HEADER_BYTES = 64 * 1024

const LF = 0x0a
const CR = 0x0d
const EMPTY = new Uint8Array(0)
// RFC 9110 §5.6.2 token; Node's setHeader rejects anything else in a name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Node's checkInvalidHeaderChar: values may hold HTAB, SP, VCHAR and obs-text (0x80–0xFF) only.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
// RFC 9110 §7.6.1 hop-by-hop fields (plus the legacy Proxy-Connection); they describe the link
// between script and gateway, not the gateway's connection to the client.
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te'])

/**
 * Creates a parser for one CGI response.
 *
 * "Has a body" is decided from the bytes, incrementally: a head without `Content-Type` (and not a
 * local redirect) is held back until either a body byte arrives (→ `no-content-type`) or `end()` is
 * called with none (→ the head, with an empty body). A head with `Content-Type` settles as soon as
 * its blank line arrives.
 *
 * @example
 * const parser = createCgiResponseParser()
 * let outcome = null
 * for await (const chunk of child.stdout) if ((outcome = parser.push(chunk)) !== null) break
 * outcome ??= parser.end()
 */
export interface CgiResponseParserOptions {
  /** Default 64 KiB. */
  maxHeaderBytes?: number
  /**
   * RFC 3875 §6.3.1: a body needs `Content-Type` (default true). Cold mode's own runner turns it off:
   * a handler's Response without one passes through as it does in the other modes.
   */
  requireContentType?: boolean
  /**
   * RFC 3875 §5: an `nph-` script writes an HTTP status line (`HTTP/1.1 200 OK`) before its headers;
   * it is checked and becomes the status. Implies `requireContentType: false`.
   */
  nph?: boolean
}

export function createCgiResponseParser (options: CgiResponseParserOptions = {}): CgiResponseParser {
  const max = options.maxHeaderBytes ?? DEFAULT_MAX_CGI_HEADER_BYTES
  const nph = options.nph === true
  const requireContentType = !nph && options.requireContentType !== false
  let buffer = new Uint8Array(Math.min(max, 1024))
  let length = 0 // header bytes buffered so far
  let lineStart = 0 // index where the current (unfinished) line starts
  let held: CgiResponseHead | null = null // parsed head waiting to learn whether a body follows
  let settled: CgiResponseOutcome | null = null

  function settle (outcome: CgiResponseOutcome): CgiResponseOutcome {
    settled = outcome
    return outcome
  }

  function append (byte: number): void {
    if (length === buffer.length) {
      const grown = new Uint8Array(Math.min(max, buffer.length * 2))
      grown.set(buffer)
      buffer = grown
    }
    buffer[length++] = byte
  }

  return {
    push (chunk) {
      if (settled !== null) throw new Error('CGI response parser: push() after the outcome was returned')
      if (chunk.length === 0) return null
      if (held !== null) {
        return settle({ ok: false, reason: 'no-content-type', message: 'the script sent a body without Content-Type' })
      }
      for (let i = 0; i < chunk.length; i++) {
        // The block may end at index `max - 1` at the latest; a byte beyond that cannot belong to it.
        if (length >= max) {
          return settle({ ok: false, reason: 'header-too-large', message: `the CGI header block exceeds ${max} bytes` })
        }
        const byte = chunk[i]
        append(byte)
        if (byte !== LF) continue
        const lineLength = length - 1 - lineStart
        // RFC 3875 §6.3: lines end in NL; a line of "" or "\r" is the blank line that ends the block,
        // so LF, CRLF and a mix of both are accepted.
        if (lineLength === 0 || (lineLength === 1 && buffer[lineStart] === CR)) {
          const result = interpret(decodeLines(buffer.subarray(0, lineStart)), nph)
          if (!result.ok) return settle(result)
          const body = chunk.subarray(i + 1)
          if (!requireContentType || !needsContentType(result.head)) return settle({ ok: true, head: result.head, body })
          if (body.length > 0) {
            return settle({ ok: false, reason: 'no-content-type', message: 'the script sent a body without Content-Type' })
          }
          held = result.head
          return null
        }
        lineStart = length
      }
      return null
    },
    end () {
      if (settled !== null) return settled
      if (held !== null) return settle({ ok: true, head: held, body: EMPTY })
      if (length === 0) return settle({ ok: false, reason: 'empty-output', message: 'the script wrote nothing to stdout' })
      return settle({ ok: false, reason: 'no-header-block', message: 'stdout ended before the end of the CGI header block' })
    },
  }
}

/** RFC 3875 §6.3.1: a document response with a body needs Content-Type; a local redirect has none. */
function needsContentType (head: CgiResponseHead): boolean {
  if (head.localRedirect !== undefined) return false
  for (let i = 0; i < head.headers.length; i += 2) {
    if (head.headers[i].toLowerCase() === 'content-type' && head.headers[i + 1] !== '') return false
  }
  return true
}

function decodeLines (block: Uint8Array): string[] {
  // latin1 keeps one char per byte, which is also how Node writes header strings back out.
  const lines = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('latin1').split('\n')
  lines.pop() // the empty string after the block's last LF
  return lines.map(line => line.endsWith('\r') ? line.slice(0, -1) : line)
}

type Interpreted = { ok: true, head: CgiResponseHead } | { ok: false, reason: CgiResponseFailureReason, message: string }

// RFC 9112 §4 status-line; RFC 3875 §5 lets an NPH script answer HTTP/1.0 or HTTP/1.1.
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/

function interpret (lines: string[], nph: boolean): Interpreted {
  let statusLine: string | undefined
  if (nph) {
    statusLine = lines.shift()
    const match = statusLine === undefined ? null : STATUS_LINE.exec(statusLine)
    if (match === null) return { ok: false, reason: 'bad-status', message: 'the nph- script did not start with an HTTP/1.x status line' }
    lines.unshift(`Status: ${match[1]}${match[2] === undefined ? '' : ` ${match[2]}`}`)
  }
  // RFC 3875 §6.2: every response has at least one CGI field.
  if (lines.length === 0) return { ok: false, reason: 'no-header-block', message: 'the CGI header block is empty' }
  const dropped: CgiDroppedHeader[] = []
  lines = unfold(lines, dropped)
  const fields: Array<{ name: string, lower: string, value: string, line: string }> = []
  const connectionNamed = new Set<string>()
  let status: string | undefined
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) {
      dropped.push({ reason: 'malformed-line', line })
      continue
    }
    const name = line.slice(0, colon)
    // RFC 3875 §6.3: optional whitespace around the value (and RFC 9110 §5.5 OWS).
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
    if (!TOKEN.test(name)) {
      dropped.push({ reason: 'invalid-name', line })
      continue
    }
    const lower = name.toLowerCase()
    if (lower === 'status') {
      // RFC 3875 §6.3.3: one Status field. Two are ambiguous, so they fail rather than pick one.
      if (status !== undefined) return { ok: false, reason: 'bad-status', message: 'the script sent Status twice' }
      status = value
      continue
    }
    if (!FIELD_VALUE.test(value)) {
      // A CR, NUL or other control byte would make setHeader throw, or split the response.
      dropped.push({ reason: 'invalid-value', line })
      continue
    }
    if (lower === 'connection') for (const token of value.split(',')) connectionNamed.add(token.trim().toLowerCase())
    fields.push({ name, lower, value, line })
  }
  if (status === undefined && fields.length === 0) {
    // RFC 3875 §6.2 again: a block whose every line was dropped has no field; answering 200 with an empty
    // body would hide a broken (or hostile) script. The message says what was dropped, for the log.
    const what = dropped.slice(0, 3).map(d => `${d.reason} ${JSON.stringify(d.line.slice(0, 100))}`).join(', ')
    const more = dropped.length > 3 ? ` and ${dropped.length - 3} more` : ''
    return { ok: false, reason: 'no-header-block', message: `the CGI header block has no valid field (dropped: ${what}${more})` }
  }

  const headers: string[] = []
  let contentLength: number | null = null
  let location: string | undefined
  for (const field of fields) {
    // RFC 9110 §7.6.1: hop-by-hop fields, and any field the Connection header names, stop here.
    if (HOP_BY_HOP.has(field.lower) || connectionNamed.has(field.lower)) {
      dropped.push({ reason: 'hop-by-hop', line: field.line })
      continue
    }
    if (field.lower === 'content-length') {
      // RFC 9110 §8.6: a decimal length; a bad or conflicting one would desync the client, so it goes
      // and the response is delimited another way.
      const n = /^\d{1,15}$/.test(field.value) ? Number(field.value) : Number.NaN
      if (Number.isNaN(n) || (contentLength !== null && contentLength !== n)) {
        dropped.push({ reason: 'invalid-content-length', line: field.line })
        continue
      }
      if (contentLength !== null) continue // an exact repeat
      contentLength = n
    }
    if (field.lower === 'location' && location === undefined) location = field.value
    headers.push(field.name, field.value)
  }

  let code = 200
  let statusText = ''
  if (status !== undefined) {
    // RFC 3875 §6.3.3: Status = 3digit SP reason-phrase; the phrase is optional in practice.
    const match = /^(\d{3})(?:[ \t]+(.*))?$/.exec(status)
    if (match === null || !FIELD_VALUE.test(status)) {
      return { ok: false, reason: 'bad-status', message: 'the Status header is not a 3-digit code' }
    }
    code = Number(match[1])
    if (code < 100 || code > 599) return { ok: false, reason: 'bad-status', message: `the Status code ${code} is out of range` }
    statusText = match[2] ?? ''
  }

  const head: CgiResponseHead = { status: code, statusText, headers, contentLength, dropped }
  if (location !== undefined) {
    if (status === undefined && isLocalPath(location)) {
      // RFC 3875 §6.2.2 local redirect: the gateway serves this path itself; any other field and any
      // body are ignored, as Apache and Go do. A Status turns it into a client redirect instead.
      head.localRedirect = location
    } else if (status === undefined) {
      head.status = 302 // RFC 3875 §6.2.3/§6.2.4: a client redirect without Status is 302 Found
    }
  }
  return { ok: true, head }
}

/**
 * RFC 9112 §5.2 obs-fold: a line starting with SP or HTAB continues the field before it. A gateway must
 * either refuse the message or replace each fold with SP; we unfold (as Apache does), so that a field is
 * passed on whole or not at all, never cut at the fold (`Set-Cookie: a=1;` without its folded `Secure`).
 * A fold with no line before it continues nothing and is dropped.
 */
function unfold (lines: string[], dropped: CgiDroppedHeader[]): string[] {
  const out: string[] = []
  for (const line of lines) {
    const first = line.charCodeAt(0)
    if (first !== 0x20 && first !== 0x09) out.push(line)
    else if (out.length > 0) out[out.length - 1] += ` ${line.replace(/^[ \t]+/, '')}`
    else dropped.push({ reason: 'malformed-line', line })
  }
  return out
}

/**
 * RFC 3875 §6.2.2 local-pathquery: starts with one '/'. `//host` and `/\host` are excluded: URL
 * resolution reads both as another host, so re-dispatching them could leave this gateway.
 */
function isLocalPath (location: string): boolean {
  return location.startsWith('/') && location[1] !== '/' && location[1] !== '\\'
}
