import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeBeginRequest, encodeEndRequest, encodeRecord, ProtocolStatus, RecordParser, RecordType } from '../../src/fastcgi/records.ts'
import { decodeParams } from '../../src/fastcgi/params.ts'

// A FastCGI responder written with the codec, for what php-fpm will not do on demand: close early,
// send garbage, oversized heads, wrong ids. Each request is answered by the behaviour its
// SCRIPT_NAME names; what it received is recorded for the test to inspect.

export interface Received {
  requestId: number
  role: number
  keepConn: boolean
  params: Map<string, string>
  stdin: Buffer
  /** Which accepted connection (1-based) carried it. */
  connection: number
}

export interface Reply {
  /** Writes raw bytes (records or not). */
  write (bytes: Uint8Array): void
  stdout (text: string | Uint8Array, requestId?: number): void
  stderr (text: string): void
  end (protocolStatus?: number): void
  close (): void
  /** The connection closes, unanswered, when the next request arrives on it (php-fpm after pm.max_requests). */
  dieOnNextRequest (): void
}

export type Behaviour = (reply: Reply, request: Received) => void | Promise<void>

export interface TinyBackend {
  /** The address for an app's `fastcgi` key: `unix:/…/backend.sock`, or `127.0.0.1:PORT` with `tcp`. */
  address: string
  readonly socket: string
  readonly received: Received[]
  accepted: number
  /** Connections open now, and the most open at once since `resetMaxOpen()`. */
  readonly open: number
  maxOpen: number
  close (): Promise<void>
}

export async function tinyBackend (behaviours: Record<string, Behaviour>, options: { answerBeforeStdin?: string[], tcp?: boolean } = {}): Promise<TinyBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'wg-fcgi-tiny-'))
  const path = join(dir, 'backend.sock')
  const sockets = new Set<Socket>()
  const backend: TinyBackend = {
    address: `unix:${path}`,
    socket: path,
    received: [],
    accepted: 0,
    get open () { return sockets.size },
    maxOpen: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
      rmSync(dir, { recursive: true, force: true })
    },
  }
  const server: Server = createServer((socket) => {
    const connection = ++backend.accepted
    sockets.add(socket)
    backend.maxOpen = Math.max(backend.maxOpen, sockets.size)
    socket.on('error', () => {})
    socket.once('close', () => sockets.delete(socket))
    const parser = new RecordParser()
    let dieOnNext = false
    let current: { requestId: number, role: number, keepConn: boolean, params: Buffer[], stdin: Buffer[], paramsDone: boolean, answered: boolean } | undefined
    const answer = (): void => {
      if (current === undefined || current.answered) return
      current.answered = true
      const { requestId } = current
      const request: Received = { requestId, role: current.role, keepConn: current.keepConn, params: decodeParams(Buffer.concat(current.params)), stdin: Buffer.concat(current.stdin), connection }
      backend.received.push(request)
      const reply: Reply = {
        write: bytes => socket.write(bytes),
        stdout: (text, id = requestId) => socket.write(encodeRecord(RecordType.STDOUT, id, typeof text === 'string' ? Buffer.from(text, 'latin1') : text)),
        stderr: text => socket.write(encodeRecord(RecordType.STDERR, requestId, Buffer.from(text))),
        end: (status = ProtocolStatus.REQUEST_COMPLETE) => {
          socket.write(Buffer.concat([encodeRecord(RecordType.STDOUT, requestId), encodeEndRequest(requestId, 0, status)]))
          if (!request.keepConn) socket.end()
        },
        close: () => socket.destroy(),
        dieOnNextRequest: () => { dieOnNext = true },
      }
      const behaviour = behaviours[request.params.get('SCRIPT_NAME') ?? ''] ?? ((r: Reply) => { r.stdout('Status: 404\r\nContent-Type: text/plain\r\n\r\nno behaviour\n'); r.end() })
      void Promise.resolve(behaviour(reply, request)).catch(() => socket.destroy())
    }
    socket.on('data', (chunk: Buffer) => {
      for (const record of parser.push(chunk)) {
        const content = Buffer.from(record.content)
        if (record.type === RecordType.BEGIN_REQUEST) {
          if (dieOnNext) return void socket.destroy()
          const begin = decodeBeginRequest(content)
          current = { requestId: record.requestId, role: begin.role, keepConn: begin.keepConn, params: [], stdin: [], paramsDone: false, answered: false }
        } else if (current !== undefined && record.type === RecordType.PARAMS) {
          if (content.length === 0) {
            current.paramsDone = true
            const script = decodeParams(Buffer.concat(current.params)).get('SCRIPT_NAME') ?? ''
            if (options.answerBeforeStdin?.includes(script) === true) answer()
          } else current.params.push(content)
        } else if (current !== undefined && record.type === RecordType.STDIN) {
          if (content.length === 0) answer()
          else current.stdin.push(content)
        }
      }
    })
  })
  if (options.tcp === true) {
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    backend.address = `127.0.0.1:${(server.address() as { port: number }).port}`
  } else {
    await new Promise<void>(resolve => server.listen(path, resolve))
  }
  return backend
}
