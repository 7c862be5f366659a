import { connect, type Socket } from 'node:net'
import { Agent, request } from 'undici'
import { within } from '../helpers/gateway.ts'

/** One raw TCP connection to a gateway, recording what the server sent and when it closed its side. */
export interface RawConnection {
  readonly socket: Socket
  /** Every byte received so far, as latin1 text. */
  text (): string
  /** Writes and resolves once the bytes are handed to the kernel (rejects if the socket is gone). */
  write (data: string | Buffer): Promise<void>
  /** Resolves when the received text matches, bounded by `ms`. */
  waitFor (match: RegExp, ms: number, label: string): Promise<string>
  /** Resolves, bounded by `ms`, with the ms from connecting until the server ended or closed the connection. */
  serverClosed (ms: number, label: string): Promise<number>
  /** Whether the server has ended or closed the connection yet. */
  isServerClosed (): boolean
}

/**
 * Connects to `base` with a half-open-capable socket, so a test can go on sending after the server
 * sent its FIN (as a smuggling or slowloris client would). Destroyed when the test ends.
 */
export async function openRaw (base: string, defer: (fn: () => void) => void): Promise<RawConnection> {
  const { hostname, port } = new URL(base)
  const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true })
  defer(() => socket.destroy())
  const opened = performance.now()
  const chunks: Buffer[] = []
  let closedAt: number | undefined
  const closeWaiters: Array<() => void> = []
  const dataWaiters: Array<() => void> = []
  const markClosed = (): void => {
    closedAt ??= performance.now() - opened
    for (const wake of closeWaiters.splice(0)) wake()
  }
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    for (const wake of dataWaiters.splice(0)) wake()
  })
  socket.on('end', markClosed)
  socket.on('close', markClosed)
  // A reset from the server (it destroyed a socket we were still writing to) counts as its close.
  socket.on('error', markClosed)
  await within(5000, `connecting to ${base}`, new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  }))
  const text = (): string => Buffer.concat(chunks).toString('latin1')
  return {
    socket,
    text,
    write: data => new Promise<void>((resolve, reject) => socket.write(data, error => error == null ? resolve() : reject(error))),
    waitFor: (match, ms, label) => within(ms, label, new Promise<string>((resolve) => {
      const check = (): void => {
        const now = text()
        if (match.test(now)) resolve(now)
        else if (closedAt !== undefined) resolve(now) // nothing more will come: let the caller's expect say what arrived
        else {
          dataWaiters.push(check)
          closeWaiters.push(check)
        }
      }
      check()
    })),
    serverClosed: (ms, label) => within(ms, label, new Promise<number>((resolve) => {
      if (closedAt !== undefined) return resolve(closedAt)
      closeWaiters.push(() => resolve(closedAt as number))
    })),
    isServerClosed: () => closedAt !== undefined,
  }
}

/** Status code of the first response in raw text, or 0 when there is none. */
export function statusOf (text: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  return match === null ? 0 : Number(match[1])
}

/** The header block of the first response in raw text, lower-cased, for `toContain` checks. */
export function headOf (text: string): string {
  const end = text.indexOf('\r\n\r\n')
  return (end === -1 ? text : text.slice(0, end)).toLowerCase()
}

/** What the counter fixture ran so far (`test/fixtures/handlers/counter.ts`), asked through `agent`. */
export async function ranPaths (agent: Agent, base: string, route: string): Promise<string[]> {
  return within(5000, `GET ${route}/count`, (async () => {
    const res = await request(`${base}${route}/count`, { dispatcher: agent })
    const { paths } = await res.body.json() as { paths: string[] }
    return paths
  })())
}
