// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.

/**
 * An answer already in the gateway's own shape: what a Node-style app's adapter (node-app/adapter.ts)
 * returns in place of a web Response. A web Response would join repeated header lines into one (fetch's
 * Headers combine every name but Set-Cookie), where a `node:http` server sends each line as the app set it;
 * the pairs here are sent as they are. Not part of the handler contract: a fetch handler returns a Response.
 */
export class PlainResponse {
  readonly status: number
  readonly statusText: string
  /** Flat `[name, value, …]`, names lower-case (Node's getHeaders() gives them so), each line its own pair. */
  readonly headers: string[]
  /** Bytes that own their whole buffer (a warm worker transfers it), nothing, or a stream still being written. */
  readonly body: Uint8Array | null | ReadableStream<Uint8Array>

  constructor (status: number, statusText: string, headers: string[], body: Uint8Array | null | ReadableStream<Uint8Array>) {
    this.status = status
    this.statusText = statusText
    this.headers = headers
    this.body = body
  }
}
