// The `awslambda` global of the Lambda Node.js runtime. No imports: loadHandler installs it before every
// module it may detect as a Lambda handler, including in each cold-mode process, so it must cost nothing.

/** The Lambda runtime's own marker (Symbol.for, so a handler bundled with its own copy agrees). */
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming')
const STREAM_RESPONSE = 'response'

/** How `HttpResponseStream.from` hands the prelude to our response stream (src/lambda/stream.ts). */
export const SET_PRELUDE = Symbol('warmgate.lambda.setPrelude')

export interface HttpPrelude {
  statusCode?: number
  headers?: Record<string, string>
  cookies?: string[]
}

/** Lambda's `awslambda.HttpResponseStream`: `from(stream, { statusCode, headers, cookies })` returns the stream. */
export class HttpResponseStream {
  static from<T> (stream: T, prelude: HttpPrelude): T {
    const target = stream as { [SET_PRELUDE]?: (prelude: HttpPrelude) => void }
    if (typeof target[SET_PRELUDE] !== 'function') throw new TypeError('HttpResponseStream.from expects the responseStream a streamified handler was given')
    target[SET_PRELUDE](prelude)
    return stream
  }
}

export function streamifyResponse<T extends (...args: never[]) => unknown> (handler: T): T {
  ;(handler as unknown as Record<symbol, unknown>)[HANDLER_STREAMING] = STREAM_RESPONSE
  return handler
}

export function isStreamified (handler: unknown): boolean {
  return (handler as Record<symbol, unknown>)[HANDLER_STREAMING] === STREAM_RESPONSE
}

/**
 * Defines `globalThis.awslambda` before a handler module is imported (modules call
 * `awslambda.streamifyResponse` at their top level). One per thread or process; kept if one exists.
 */
export function installAwsLambdaGlobal (): void {
  if ((globalThis as { awslambda?: unknown }).awslambda !== undefined) return
  Object.defineProperty(globalThis, 'awslambda', {
    value: Object.freeze({ streamifyResponse, HttpResponseStream }),
    configurable: true,
    writable: false,
  })
}
