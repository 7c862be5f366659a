// The Lambda `context` argument, as the Lambda Node.js runtime builds it ("AWS Lambda context object in Node.js").
import type { HandlerOptions } from '../handler/options.ts'

// process.getBuiltinModule, not `import … from 'node:…'`: an ESM import of a builtin builds a facade that
// reads every export (and a bundle would hoist it): cold requests that are not Lambda ones must not pay for it.
const { randomBytes } = process.getBuiltinModule('node:crypto')
const { getHeapStatistics } = process.getBuiltinModule('node:v8')

export interface LambdaContext {
  functionName: string
  functionVersion: string
  invokedFunctionArn: string
  /** A string, as the Lambda runtime sets it (from AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  memoryLimitInMB: string
  awsRequestId: string
  logGroupName: string
  logStreamName: string
  callbackWaitsForEmptyEventLoop: boolean
  getRemainingTimeInMillis (): number
}

/** Per handler instance (a thread, a process): what is the same for every invocation it serves. */
export interface LambdaInstance {
  functionName: string
  invokedFunctionArn: string
  memoryLimitInMB: string
  logGroupName: string
  logStreamName: string
  timeoutMs: number
}

/**
 * `memoryLimitInMB`: the app's `memoryMb` (a warm worker's heap limit); without one, this isolate's own
 * V8 heap limit, so the number is what the handler can really use. The log stream name has Lambda's form
 * (`2024/01/31/[$LATEST]<32 hex>`), one per instance, as each Lambda execution environment has its own.
 */
export function createLambdaInstance (options: HandlerOptions, now = Date.now()): LambdaInstance {
  const memory = options.memoryMb ?? Math.floor(getHeapStatistics().heap_size_limit / 1048576)
  const day = new Date(now).toISOString().slice(0, 10).replaceAll('-', '/')
  return {
    functionName: options.appName,
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${options.appName}`,
    memoryLimitInMB: String(memory),
    logGroupName: `/aws/lambda/${options.appName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    timeoutMs: options.timeoutMs,
  }
}

/**
 * One invocation's context. The deadline counts from `startedAt`, when the adapter got the request:
 * the gateway's own timeout starts a little earlier (at dispatch), so the handler is stopped up to a
 * queue hop (warm: a MessagePort hop; cold: the process start) before the number reaches 0.
 * `callbackWaitsForEmptyEventLoop` is there to be set; the gateway never waits for an empty event loop.
 */
export function createLambdaContext (instance: LambdaInstance, requestId: string, startedAt: number): LambdaContext {
  const deadline = startedAt + instance.timeoutMs
  return {
    functionName: instance.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: instance.invokedFunctionArn,
    memoryLimitInMB: instance.memoryLimitInMB,
    awsRequestId: requestId,
    logGroupName: instance.logGroupName,
    logStreamName: instance.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  }
}
