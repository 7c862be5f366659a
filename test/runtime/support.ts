import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { Agent, request } from 'undici'
import { createGateway, type Gateway, type GatewayConfig, type Mode } from '../../src/index.ts'
import { APPS, FIXTURES, memoryLogger, ROOT, startGateway, within, type Started } from '../helpers/gateway.ts'

/** What every behaviour case gets: the mode under test, and a way to close what it opens. */
export interface CaseContext {
  readonly mode: Mode
  /** Runs `fn` when the test ends, pass or fail (vitest's `onTestFinished`). */
  defer (fn: () => unknown): void
}

/** Absolute path of a handler fixture in `test/fixtures/handlers/`. */
export function handler (file: string): string {
  return `${FIXTURES}handlers/${file}`
}

/** Absolute path of an example app in `apps/`. */
export function exampleApp (file: string): string {
  return `${APPS}${file}`
}

export interface SendOptions {
  method?: string
  headers?: Record<string, string | string[]>
  body?: string | Uint8Array | Readable
  signal?: AbortSignal
  /** Bound for the whole exchange, body included. Default 5 s. */
  ms?: number
}

export interface Reply {
  status: number
  statusText: string
  headers: IncomingHttpHeaders
  body: Buffer
  text (): string
  json<T = unknown> (): T
  /** The response's `x-request-id`. */
  requestId: string
}

/** A gateway listening on an ephemeral loopback port, with its own undici Agent. */
export interface Harness extends Started {
  agent: Agent
  /** One HTTP exchange through `agent`, bounded and read to the end. */
  send (path: string, options?: SendOptions): Promise<Reply>
  /** One socketless exchange through `gateway.fetch`, bounded. */
  /** `ms` bounds the exchange (default 5 s). */
  fetch (path: string, init?: RequestInit & { ms?: number }): Promise<Response>
}

/**
 * Starts a gateway in the mode under test (it overrides every app's mode) and closes it, and its
 * Agent, when the test ends.
 */
export async function openGateway (ctx: CaseContext, config: GatewayConfig, agentOptions?: Agent.Options): Promise<Harness> {
  const started = await within(15_000, `starting a ${ctx.mode} gateway`, startGateway(config, { mode: ctx.mode }))
  ctx.defer(() => within(10_000, 'closing the gateway', started.gateway.close()))
  const agent = openAgent(ctx, agentOptions)
  return {
    ...started,
    agent,
    send: (path, options) => send(agent, started.url, path, options),
    fetch: (path, init) => fetchVia(started.gateway, path, init),
  }
}

/** A gateway that never listens: for `gateway.fetch` and `gateway.handler`. Closed when the test ends. */
export async function openEmbedded (ctx: CaseContext, config: GatewayConfig): Promise<{ gateway: Gateway, lines: Array<Record<string, unknown>> }> {
  const { logger, lines } = memoryLogger()
  const gateway = await within(15_000, `creating a ${ctx.mode} gateway`, createGateway(config, { mode: ctx.mode, logger }))
  ctx.defer(() => within(10_000, 'closing the gateway', gateway.close()))
  return { gateway, lines }
}

export function openAgent (ctx: CaseContext, options?: Agent.Options): Agent {
  const agent = new Agent(options)
  ctx.defer(() => within(5000, 'closing the undici agent', agent.close()))
  return agent
}

/** A plain `node:http` server of the test's own on 127.0.0.1, counting the connections it accepts. */
export async function openServer (ctx: CaseContext, listener: RequestListener): Promise<{ server: Server, url: string, connections: () => number }> {
  const server = createServer(listener)
  let connections = 0
  server.on('connection', () => { connections++ })
  await within(5000, 'listening with a node:http server', new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve)))
  ctx.defer(() => within(5000, 'closing the node:http server', new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })))
  const { port } = server.address() as AddressInfo
  return { server, url: `http://127.0.0.1:${port}`, connections: () => connections }
}

/** A raw socket sending one GET; the caller decides when (and whether) to read. Destroyed when the test ends. */
export async function rawGet (ctx: CaseContext, url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  ctx.defer(() => socket.destroy())
  await within(5000, 'connecting a raw socket', once(socket, 'connect'))
  socket.write(`GET ${path} HTTP/1.1\r\nHost: local\r\n\r\n`)
  return socket
}

export function send (agent: Agent, base: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const method = options.method ?? 'GET'
  return within(options.ms ?? 5000, `${method} ${path}`, (async () => {
    const res = await request(base + path, { method, headers: options.headers, body: options.body, signal: options.signal, dispatcher: agent })
    const body = Buffer.from(await res.body.arrayBuffer())
    return {
      status: res.statusCode,
      statusText: res.statusText,
      headers: res.headers,
      body,
      text: () => body.toString('utf8'),
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
      requestId: String(res.headers['x-request-id']),
    }
  })())
}

export function fetchVia (gateway: Gateway, path: string, init?: RequestInit & { ms?: number }): Promise<Response> {
  return within(init?.ms ?? 5000, `gateway.fetch ${init?.method ?? 'GET'} ${path}`, gateway.fetch(new Request(`http://local${path}`, init)))
}

export interface RawReply {
  status: number
  statusText: string
  /** undici's raw header array, `[name, value, …]`, as on the wire. */
  rawHeaders: string[]
  body: Buffer
}

/** One exchange through undici's dispatch API, keeping the raw header lines (repeats stay separate). */
export function sendRaw (agent: Agent, base: string, path: string, method = 'GET'): Promise<RawReply> {
  return within(5000, `${method} ${path} (raw)`, new Promise<RawReply>((resolve, reject) => {
    const chunks: Buffer[] = []
    let head: Omit<RawReply, 'body'> | undefined
    agent.dispatch({ origin: base, path, method }, {
      onRequestStart () {},
      onResponseStart (controller, status, _headers, statusText) {
        const raw = (controller.rawHeaders ?? []) as Array<Buffer | string>
        head = { status, statusText: statusText ?? '', rawHeaders: raw.map(item => item.toString()) }
      },
      onResponseData (_controller, chunk) { chunks.push(chunk) },
      onResponseEnd () {
        if (head === undefined) reject(new Error('response ended before its head'))
        else resolve({ ...head, body: Buffer.concat(chunks) })
      },
      onResponseError (_controller, error) { reject(error) },
    })
  }))
}

/**
 * Writes `text` (one or more pipelined HTTP/1.1 requests, the last with `Connection: close`) on a raw
 * socket and resolves with every byte the server sent until it closed the connection.
 */
export function rawExchange (base: string, text: string): Promise<string> {
  const { hostname, port } = new URL(base)
  // write, not end: Node's HTTP server takes a half-close from the client as an abort of its requests.
  const socket = connect(Number(port), hostname, () => socket.write(text))
  const chunks: Buffer[] = []
  const closed = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
  return within(5000, `raw exchange: ${text.split('\r\n')[0]}`, closed).finally(() => socket.destroy())
}

/** Values of every raw header line named `name` (case-insensitive), in wire order. */
export function rawValues (rawHeaders: string[], name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) values.push(rawHeaders[i + 1])
  return values
}

/** Polls `probe` until it returns a value other than `undefined`, bounded by `ms`. */
export function eventually<T> (ms: number, label: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  let stop = false
  const poll = async (): Promise<T> => {
    while (!stop) {
      const value = await probe()
      if (value !== undefined) return value
      await sleep(10)
    }
    throw new Error('stopped')
  }
  return within(ms, label, poll()).finally(() => { stop = true })
}

/** Access-log lines (`msg: 'request'`) for one request id. */
export function accessLines (lines: Array<Record<string, unknown>>, reqId: string): Array<Record<string, unknown>> {
  return lines.filter(line => line.msg === 'request' && line.reqId === reqId)
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** `import` specifiers a child script (see `runAlone`) uses to reach the gateway and the test helpers. */
export const MODULES = {
  gateway: pathToFileURL(`${ROOT}src/index.ts`).href,
  helpers: pathToFileURL(`${ROOT}test/helpers/gateway.ts`).href,
}

/**
 * Runs `source` as an ES module in a child Node and resolves once it has exited by itself, with what it
 * wrote.
 * For what could hang or abort a process (worker threads left running, a native assertion): the child
 * takes the damage and the test reports it. The child is killed if it has not exited within `ms`.
 */
export async function runAlone (source: string, ms: number): Promise<{ stdout: string, stderr: string, code: number | null, signal: string | null }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  try {
    const [code, signal] = await within(ms, 'a child process to exit on its own', once(child, 'close') as Promise<[number | null, string | null]>)
    return { stdout, stderr, code, signal }
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${(error as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`)
  }
}
