import { once } from 'node:events'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { createGateway, type Gateway, type GatewayConfig, type GatewayOptions } from '../../src/index.ts'
import type { Logger } from '../../src/log/logger.ts'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const APPS = fileURLToPath(new URL('../../apps/', import.meta.url))
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** A pino logger that keeps every line in memory, so tests can assert on what was logged. */
export function memoryLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

export interface Started {
  gateway: Gateway
  url: string
  lines: Array<Record<string, unknown>>
  /** Set when the config has `server.admin`. */
  adminUrl?: string
}

/** Starts a gateway on an ephemeral loopback port with an in-memory logger. Close it with `gateway.close()`. */
export async function startGateway (config: GatewayConfig, options: GatewayOptions = {}): Promise<Started> {
  const { logger, lines } = memoryLogger()
  const gateway = await createGateway(config, { logger, ...options })
  const { url, adminUrl } = await gateway.listen({ port: 0, host: '127.0.0.1' })
  return { gateway, url, lines, adminUrl }
}

/** `code` fields logged for one request id. */
export function codesOf (logLines: Array<Record<string, unknown>>, reqId: string): unknown[] {
  return logLines.filter(line => line.reqId === reqId && line.code !== undefined).map(line => line.code)
}

/** Rejects with a message naming what hung, instead of the test timing out silently. */
export async function within<T> (ms: number, label: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export { once }
