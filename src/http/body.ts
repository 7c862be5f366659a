import type { IncomingMessage } from 'node:http'

export type BodyResult = Uint8Array | null | 'too-large' | 'aborted'

/**
 * Reads a request body into one Uint8Array that owns its whole ArrayBuffer, so warm mode can transfer
 * it to a worker without a second copy. A declared Content-Length above the limit is refused before
 * anything is read; a chunked body is cut off as soon as it passes the limit.
 */
export function readBody (req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = req.headers['content-length']
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(null)
  const expected = declared === undefined ? -1 : Number(declared)
  if (expected > limit) return Promise.resolve('too-large')
  if (expected === 0) return Promise.resolve(null)
  return new Promise<BodyResult>((resolve) => {
    // Known length: one buffer, filled in place. Chunked: collect, then copy once at the end.
    const whole = expected > 0 ? new Uint8Array(expected) : undefined
    const chunks: Buffer[] = []
    let received = 0
    let settled = false
    const settle = (result: BodyResult): void => {
      if (settled) return
      settled = true
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      req.off('error', onClose)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      if (received + chunk.byteLength > limit || (whole !== undefined && received + chunk.byteLength > whole.byteLength)) {
        req.pause()
        return settle('too-large')
      }
      if (whole !== undefined) whole.set(chunk, received)
      else chunks.push(chunk)
      received += chunk.byteLength
    }
    const onEnd = (): void => {
      if (whole !== undefined) return settle(received === whole.byteLength ? whole : 'aborted')
      const body = new Uint8Array(received)
      let offset = 0
      for (const chunk of chunks) {
        body.set(chunk, offset)
        offset += chunk.byteLength
      }
      settle(received === 0 ? null : body)
    }
    const onClose = (): void => settle('aborted')
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('close', onClose)
    req.on('error', onClose)
  })
}
