import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGateway, type Gateway } from '../../src/index.ts'
import { cgiParams, FcgiPeer, requestRecords } from '../front/support.ts'
import { FIXTURES, memoryLogger, within } from '../helpers/gateway.ts'

// Every front door gives the same answer (docs/architecture.md "The request pipeline"): one gateway, the
// same request sent through the HTTP listener (undici), the FastCGI responder (the records nginx would
// send, over a socket) and gateway.fetch(), and per door: status, body and headers (all but the framing
// and connection ones), what warmgate_requests_total and warmgate_errors_total counted for it, and its
// access line (app, mode, method, path, status, reqId, level) with the error codes logged under its id.
//
// What still differs between the doors, and why:
// - Framing: each door frames its answer its own way (Content-Length or chunked, CGI's `Status:` line,
//   a web Response with no Content-Length), and the HTTP door adds `Connection: close` to a refusal whose
//   body it did not read (413, 400). Those fields are not compared (NOT_COMPARED).
// - gateway.fetch answers the operator endpoints even when `server.admin` gives them an address of their
//   own (the main port and the FastCGI responder then answer 404): it has no socket to keep apart
//   (embedding.md). Not in this table, which has no `server.admin`.
// - A client gone before its answer: the FastCGI responder logs and counts a 499; the HTTP door logs
//   nothing when the client leaves while its body is read; gateway.fetch rejects while it reads the
//   Request's body, before any step. Not in this table.

type Door = 'http' | 'fastcgi' | 'fetch'
const DOORS: readonly Door[] = ['http', 'fastcgi', 'fetch']

const HANDLER = `${FIXTURES}handlers/front-doors.ts`
/** Small, so that a 2 KiB body is over it. */
const BODY_LIMIT = '1kb'
const TOO_LARGE = Buffer.alloc(2048, 'x')

interface Sent {
  method: string
  /** Path and query. */
  path: string
  headers?: Record<string, string>
  body?: Buffer
}

interface Answer {
  status: number
  /** Lower-case names; repeats kept (Set-Cookie), others joined with `, ` as a web Headers would. */
  headers: Record<string, string[]>
  body: string
}

/** What one request through one door gave, and what the gateway counted and logged for it. */
interface Observed {
  answer: Answer
  /** The request id the door answered with (x-request-id). */
  id: string
  /** Changes of warmgate_requests_total and warmgate_errors_total samples (label set → delta). */
  metrics: Record<string, number>
  access: Array<Record<string, unknown>>
  codes: unknown[]
}

// Hop-by-hop and framing fields: each door frames its answer its own way (RFC 9112 §6; CGI's Status).
const NOT_COMPARED = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'status'])

let gateway: Gateway
let url: string
let fastcgi: string
let lines: Array<Record<string, unknown>>
const agent = new Agent({ connections: 2 })

beforeAll(async () => {
  const memory = memoryLogger()
  // Debug: operator endpoints log their access line at debug, and that line is compared too.
  memory.logger.level = 'debug'
  lines = memory.lines
  const app = { entry: HANDLER, bodyLimit: BODY_LIMIT }
  gateway = await createGateway({
    server: { fastcgi: { listen: '127.0.0.1:0' } },
    apps: {
      warm: { ...app, route: '/warm', mode: 'warm', workers: { min: 1, max: 1 }, timeout: '300ms' },
      inline: { ...app, route: '/inline', mode: 'inline', timeout: '300ms' },
      cold: { ...app, route: '/cold', mode: 'cold', timeout: '1s' },
      scripts: { route: '/cgi-bin', cgi: `${FIXTURES}cgi-bin`, bodyLimit: BODY_LIMIT },
    },
  }, { logger: memory.logger })
  const listening = await gateway.listen({ port: 0, host: '127.0.0.1' })
  url = listening.url
  fastcgi = listening.fastcgi as string
})

afterAll(async () => {
  await within(5000, 'closing the undici agent', agent.close())
  await within(15_000, 'closing the gateway', gateway.close())
})

async function viaHttp (sent: Sent): Promise<Answer> {
  const res = await request(`${url}${sent.path}`, { method: sent.method, headers: sent.headers, body: sent.body, dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 })
  const headers: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue
    const values = Array.isArray(value) ? value : [value]
    headers[name] = name === 'set-cookie' ? values : [values.join(', ')]
  }
  return { status: res.statusCode, headers, body: await res.body.text() }
}

async function viaFastCgi (sent: Sent): Promise<Answer> {
  const extra: Record<string, string> = { HTTP_HOST: new URL(url).host }
  for (const [name, value] of Object.entries(sent.headers ?? {})) {
    if (name === 'content-type') extra.CONTENT_TYPE = value
    else extra[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value
  }
  if (sent.body !== undefined) extra.CONTENT_LENGTH = String(sent.body.byteLength)
  const peer = await FcgiPeer.connect(fastcgi)
  try {
    peer.send(...requestRecords(1, cgiParams(sent.method, sent.path, extra), { body: sent.body }))
    const res = await peer.response(1, `FastCGI ${sent.method} ${sent.path}`, 10_000)
    const headers: Record<string, string[]> = {}
    for (const [name, value] of res.headers) {
      const values = headers[name] ??= []
      if (name === 'set-cookie' || values.length === 0) values.push(value)
      else values[0] += `, ${value}`
    }
    return { status: res.status, headers, body: res.body.toString('utf8') }
  } finally {
    peer.close()
  }
}

async function viaFetch (sent: Sent): Promise<Answer> {
  const res = await gateway.fetch(new Request(`${url}${sent.path}`, { method: sent.method, headers: sent.headers, body: sent.body }))
  const headers: Record<string, string[]> = {}
  res.headers.forEach((value, name) => { headers[name] = name === 'set-cookie' ? res.headers.getSetCookie() : [value] })
  return { status: res.status, headers, body: await res.text() }
}

const SEND: Record<Door, (sent: Sent) => Promise<Answer>> = { http: viaHttp, fastcgi: viaFastCgi, fetch: viaFetch }

/** The warmgate_requests_total and warmgate_errors_total samples, by metric name and label set. */
async function counters (): Promise<Map<string, number>> {
  const res = await within(10_000, 'GET /__warmgate/metrics', request(`${url}/__warmgate/metrics`, { dispatcher: agent }))
  const text = await res.body.text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith('warmgate_requests_total{') && !line.startsWith('warmgate_errors_total{')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

async function observe (door: Door, sent: Sent): Promise<Observed> {
  const before = await counters()
  const answer = await within(15_000, `${door}: ${sent.method} ${sent.path}`, SEND[door](sent))
  const after = await counters()
  const metrics: Record<string, number> = {}
  for (const [series, value] of after) {
    const delta = value - (before.get(series) ?? 0)
    if (delta !== 0) metrics[series] = delta
  }
  const id = answer.headers['x-request-id']?.[0] ?? ''
  const access = lines.filter(line => line.msg === 'request' && line.reqId === id)
    .map(line => ({ app: line.app, mode: line.mode, method: line.method, path: line.path, status: line.status, reqId: line.reqId, level: line.level }))
  const codes = lines.filter(line => line.reqId === id && line.code !== undefined).map(line => line.code)
  return { answer, id, metrics, access, codes }
}

/** The answer with the door's own request id (a generated one differs per request) replaced by `<id>`. */
function comparable (observed: Observed): Answer & { access: unknown[], codes: unknown[], metrics: Record<string, number> } {
  const { answer, id } = observed
  const headers: Record<string, string[]> = {}
  for (const [name, values] of Object.entries(answer.headers)) {
    if (!NOT_COMPARED.has(name)) headers[name] = values.map(value => value.replaceAll(id, '<id>'))
  }
  const access = observed.access.map(line => ({ ...line, reqId: line.reqId === id ? '<id>' : line.reqId }))
  return { status: answer.status, headers, body: answer.body.replaceAll(id, '<id>'), metrics: observed.metrics, access, codes: observed.codes }
}

/** `door field: http X, door Y` for each field (a header, a metric series, …) where `door` differs from the HTTP door. */
function differences (door: Door, http: ReturnType<typeof comparable>, other: ReturnType<typeof comparable>): string[] {
  const flat = (value: ReturnType<typeof comparable>): Map<string, string> => new Map([
    ['status', JSON.stringify(value.status)],
    ['body', JSON.stringify(value.body)],
    ['access', JSON.stringify(value.access)],
    ['codes', JSON.stringify(value.codes)],
    ...Object.entries(value.headers).map(([name, values]): [string, string] => [`header ${name}`, JSON.stringify(values)]),
    ...Object.entries(value.metrics).map(([series, delta]): [string, string] => [`metric ${series}`, `+${delta}`]),
  ])
  const [a, b] = [flat(http), flat(other)]
  const out: string[] = []
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(key) !== b.get(key)) out.push(`${door} ${key}: http ${a.get(key) ?? '(none)'}, ${door} ${b.get(key) ?? '(none)'}`)
  }
  return out
}

interface Row {
  name: string
  sent: Sent
  status: number
  /** The requests_total delta the HTTP door must show (what the others are compared with). */
  counted: number
}

const APPS = ['warm', 'inline', 'cold'] as const

const ROWS: Row[] = [
  ...APPS.flatMap((app): Row[] => [
    { name: `${app}: GET with a query`, sent: { method: 'GET', path: `/${app}/echo?x=1&y=two%20words` }, status: 200, counted: 1 },
    { name: `${app}: POST with a body`, sent: { method: 'POST', path: `/${app}/created`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('a=1&b=%C3%A9') }, status: 201, counted: 1 },
    { name: `${app}: HEAD`, sent: { method: 'HEAD', path: `/${app}/echo?h=1` }, status: 200, counted: 1 },
    { name: `${app}: a handler that throws (500)`, sent: { method: 'GET', path: `/${app}/throw` }, status: 500, counted: 1 },
    { name: `${app}: a handler past its timeout (504)`, sent: { method: 'GET', path: `/${app}/hang` }, status: 504, counted: 1 },
    { name: `${app}: a body over bodyLimit (413)`, sent: { method: 'POST', path: `/${app}/echo`, headers: { 'content-type': 'application/octet-stream' }, body: TOO_LARGE }, status: 413, counted: 1 },
  ]),
  { name: 'warm: a request with x-request-id', sent: { method: 'GET', path: '/warm/echo?id', headers: { 'x-request-id': 'front-doors-given-1' } }, status: 200, counted: 1 },
  { name: 'a path no app serves (404)', sent: { method: 'GET', path: '/nowhere/at/all' }, status: 404, counted: 1 },
  { name: 'cgi: a script with a status', sent: { method: 'GET', path: '/cgi-bin/respond.sh?created' }, status: 201, counted: 1 },
  { name: 'cgi: a local redirect (RFC 3875 §6.2.2)', sent: { method: 'GET', path: '/cgi-bin/respond.sh?redirect-local' }, status: 200, counted: 1 },
  { name: 'admin: health', sent: { method: 'GET', path: '/__warmgate/health' }, status: 200, counted: 0 },
  { name: 'admin: a method it refuses (405)', sent: { method: 'POST', path: '/__warmgate/ready', body: Buffer.from('x') }, status: 405, counted: 0 },
]

describe('every front door gives the same answer, counts and logs it the same way', () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const seen = {} as Record<Door, Observed>
      const given = row.sent.headers?.['x-request-id']
      for (const door of DOORS) {
        // One id per door, so that each door's log lines are its own.
        const sent = given === undefined ? row.sent : { ...row.sent, headers: { ...row.sent.headers, 'x-request-id': `${given}-${door}` } }
        seen[door] = await observe(door, sent)
      }
      for (const door of DOORS) {
        const { answer, id, access } = seen[door]
        expect(answer.status, `${door}: status`).toBe(row.status)
        if (given !== undefined) expect(id, `${door}: x-request-id`).toBe(`${given}-${door}`)
        expect(id, `${door}: an x-request-id on the answer`).not.toBe('')
        expect(access, `${door}: one access line with the answer's request id`).toHaveLength(1)
      }
      const http = comparable(seen.http)
      const total = Object.entries(http.metrics).filter(([series]) => series.startsWith('warmgate_requests_total')).reduce((sum, [, n]) => sum + n, 0)
      expect(total, 'http: requests counted').toBe(row.counted)
      // Every difference of both doors at once, each named by door and field.
      const drift = [...differences('fastcgi', http, comparable(seen.fastcgi)), ...differences('fetch', http, comparable(seen.fetch))]
      expect(drift, `${row.name}:\n${drift.join('\n')}\n`).toEqual([])
    })
  }
})
