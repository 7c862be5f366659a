// Shared by the main thread, warm workers and the cold runner: plain data, imports types only.
import type { HandlerKind, LambdaPayload } from '../config/define.ts'
import type { ResolvedApp } from '../config/resolve.ts'

/**
 * What `loadHandler` needs to know about the app besides its entry: how to call the module, and what a
 * Lambda handler's `context` reports. Plain data, so that it crosses to a worker (ServeTask) and to the
 * cold runner (an environment variable) unchanged.
 */
export interface HandlerOptions {
  kind: HandlerKind | 'auto'
  /** `context.functionName`. */
  appName: string
  /** The app's timeout: `context.getRemainingTimeInMillis()` counts down from it. */
  timeoutMs: number
  /** `context.memoryLimitInMB`; undefined: the isolate's V8 heap limit. */
  memoryMb: number | undefined
  payload: LambdaPayload
}

/** The cold runner reads its options from this variable (JSON), set by ColdRuntime. */
export const HANDLER_OPTIONS_ENV = 'WARMGATE_HANDLER_OPTIONS'

export function handlerOptionsOf (app: ResolvedApp): HandlerOptions {
  return { kind: app.kind, appName: app.name, timeoutMs: app.timeoutMs, memoryMb: app.memoryMb, payload: app.lambda.payload }
}
