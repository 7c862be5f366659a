import { once } from 'node:events'
import { WebSocket } from 'ws'
import { within } from '../helpers/gateway.ts'
import type { CaseContext } from '../runtime/support.ts'

/** A `ws` client that records every message and how the connection ended. Closed when the test ends. */
export interface Client {
  ws: WebSocket
  messages: Array<{ data: Buffer, binary: boolean }>
  closed: Promise<{ code: number, reason: string }>
  /** The next message after the ones already read by `next`. */
  next (ms?: number): Promise<{ data: Buffer, binary: boolean }>
  text (ms?: number): Promise<string>
}

export async function connectClient (ctx: CaseContext, url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
  const ws = new WebSocket(url, options)
  ctx.defer(() => { ws.terminate() })
  const messages: Client['messages'] = []
  const waiting: Array<() => void> = []
  ws.on('message', (data: Buffer, binary: boolean) => {
    messages.push({ data, binary })
    waiting.shift()?.()
  })
  ws.on('error', () => {})
  const closed = new Promise<{ code: number, reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  await within(5000, `opening ${url}`, once(ws, 'open'))
  let read = 0
  const next = async (ms = 5000): Promise<{ data: Buffer, binary: boolean }> => {
    if (messages.length <= read) await within(ms, `message ${read + 1} on ${url}`, new Promise<void>((resolve) => waiting.push(resolve)))
    return messages[read++]
  }
  return { ws, messages, closed, next, text: async (ms) => (await next(ms)).data.toString() }
}

/** What a handshake that is refused answers: its status and body. */
export async function refusedHandshake (url: string): Promise<{ status: number, body: string }> {
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  const [, res] = await within(5000, `the refused handshake to ${url}`, once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage]
  let body = ''
  for await (const chunk of res) body += String(chunk)
  ws.terminate()
  return { status: res.statusCode ?? 0, body }
}
