// Runs an AWS Lambda handler as a fetch handler: web Request → API Gateway event, result → Response.
// Used by loadHandler, so the same wrapping happens in every mode (warm worker, inline, cold runner).
import { GatewayError } from '../errors.ts'
import { callOf } from '../handler/invoke.ts'
import type { HandlerOptions } from '../handler/options.ts'
import type { FetchHandler } from '../types.ts'
import { createLambdaContext, createLambdaInstance, type LambdaContext } from './context.ts'
import type { EventInput } from './event-input.ts'
import { createEventV1 } from './event-v1.ts'
import { createEventV2 } from './event-v2.ts'
import { responseFromResult } from './result.ts'
import { isStreamified } from './global.ts'
import { LambdaResponseStream } from './stream.ts'

export type LambdaHandler = (event: unknown, context: LambdaContext, callback?: LambdaCallback) => unknown
type LambdaCallback = (error?: unknown, result?: unknown) => void
type StreamingHandler = (event: unknown, responseStream: LambdaResponseStream, context: LambdaContext) => unknown

/**
 * Wraps a module's `handler(event, context)` export. Everything per app (payload format, the context's
 * fixed fields) is settled here once; per request, the body is read whole, since an API Gateway event
 * carries it as one string (as API Gateway does, bounded by the app's bodyLimit before we get here).
 */
export function createLambdaHandler (handler: LambdaHandler, options: HandlerOptions): FetchHandler {
  const instance = createLambdaInstance(options)
  const createEvent = options.payload === '1.0' ? createEventV1 : createEventV2
  const streaming = isStreamified(handler)
  return async (request, _env, ctx) => {
    const time = Date.now()
    const call = callOf(ctx)
    const input: EventInput = {
      requestId: ctx.requestId,
      method: request.method,
      url: request.url,
      headers: call?.headers ?? [...request.headers].flat(),
      body: request.body === null ? null : new Uint8Array(await request.arrayBuffer()),
      // gateway.fetch has no socket: the caller is this process (as CGI's REMOTE_ADDR says then).
      sourceIp: call?.connection?.remoteAddress ?? '127.0.0.1',
      protocol: 'HTTP/1.1',
      time,
    }
    const event = createEvent(input)
    const context = createLambdaContext(instance, ctx.requestId, time)
    if (streaming) return runStreaming(handler as unknown as StreamingHandler, event, context)
    let result: unknown
    try {
      result = await callHandler(handler, event, context)
    } catch (cause) {
      throw threw(cause)
    }
    return responseFromResult(result, options.payload)
  }
}

/**
 * The result of either style, whichever settles first: the returned promise (async handlers) or the
 * callback (`(event, context, callback)`; also `context.done/succeed/fail`, which older code uses). An
 * async handler that declares a callback and resolves undefined is waiting for its callback.
 */
function callHandler (handler: LambdaHandler, event: unknown, context: LambdaContext): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false
    const callback: LambdaCallback = (error, result) => {
      if (settled) return
      settled = true
      if (error !== undefined && error !== null) reject(error)
      else resolve(result)
    }
    Object.assign(context, {
      done: callback,
      succeed: (result: unknown) => callback(null, result),
      fail: (error: unknown) => callback(error ?? new Error('context.fail() called')),
    })
    let returned: unknown
    try {
      returned = handler(event, context, callback)
    } catch (error) {
      callback(error ?? new Error('the handler threw a nullish value'))
      return
    }
    if (isThenable(returned)) {
      returned.then(
        (value) => { if (value !== undefined || handler.length < 3) callback(null, value) },
        (error: unknown) => callback(error ?? new Error('the handler rejected with a nullish value')),
      )
    } else if (handler.length < 3) callback(null, returned)
  })
}

/**
 * A streamified handler: the Response resolves at the stream's first write or its end (whichever is
 * first), so its first bytes reach the client while the handler still runs. When the handler's promise
 * settles, the stream is ended for it if it has not ended it itself.
 */
function runStreaming (handler: StreamingHandler, event: unknown, context: LambdaContext): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const stream = new LambdaResponseStream((head, body) => {
      try {
        resolve(new Response(body, { status: head.status, headers: head.headers }))
      } catch (cause) {
        reject(new GatewayError('WG_ERR_LAMBDA_RESULT', `invalid streamed response head: ${(cause as Error).message}`, { cause }))
        stream.destroy()
      }
    })
    Promise.resolve().then(() => handler(event, stream, context)).then(
      () => { if (!stream.writableEnded && !stream.destroyed) stream.end() },
      (cause: unknown) => {
        if (stream.headSent) stream.failBody(cause)
        else {
          stream.destroy()
          reject(threw(cause))
        }
      },
    )
  })
}

function threw (cause: unknown): GatewayError {
  const message = cause instanceof Error ? cause.message : String(cause)
  return new GatewayError('WG_ERR_LAMBDA_THREW', `Lambda handler failed: ${message}`, { cause })
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
