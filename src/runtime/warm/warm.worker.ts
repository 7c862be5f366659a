// Worker side of warm mode: runs inside a piscina thread. Imports only protocol/, handler/ and errors.ts,
// never main-side modules.
import { serializeError, type SerializedError } from '../../errors.ts'
import { installLightFetch } from '../../handler/install-fetch.ts'
import { invokeHandler } from '../../handler/invoke.ts'
import { loadHandler } from '../../handler/load.ts'
import { primeWebClasses } from '../../handler/prime.ts'
import { getHeapStatistics } from 'node:v8'
import { threadId } from 'node:worker_threads'
import { StreamedBody, type HandlerResponse } from '../../handler/response-body.ts'
import {
  ABORT, FAILURE, LOAD_FAILED, LOG, Outbox, PROTOCOL_VERSION, READY, REQUEST, REQUEST_CHUNK, REQUEST_END,
  RESPONSE, RESPONSE_CREDIT, RETIRE, STOP, STOPPED, WS_CLOSED, WS_MESSAGE, WS_OPEN,
  type FromWorker, type RequestMessage, type ServeTask, type ToWorker,
} from '../../protocol/messages.ts'
import { hooksOf, nodeUpgradeOf, WebSocketSessions } from '../../handler/websocket.ts'
import type { FetchHandler } from '../../types.ts'
import { WorkerStreams } from './warm-streams.worker.ts'

/** How long a batch may run handlers before the worker lets finished responses out (ms). */
const YIELD_AFTER_MS = 0.5

/**
 * piscina task that owns its thread for the worker's whole life: it imports the handler once, then
 * answers requests arriving on its own MessagePort until told to stop. Requests do not go through
 * `piscina.run()` (one task per request costs ~2× the hop, measured before warm mode was written); piscina owns thread
 * creation, resource limits and termination.
 */
export default async function serve (task: ServeTask): Promise<SerializedError | undefined> {
  const port = task.port
  let handler: FetchHandler
  // Before the handler is imported, so that it sees the light fetch classes as its globals.
  installLightFetch()
  try {
    handler = await loadHandler(task.entry, undefined, task.handler)
  } catch (error) {
    // Returned as the task's result as well: the port and piscina's own channel are not ordered together.
    const serialized = serializeError(error)
    port.postMessage([[LOAD_FAILED, serialized]])
    port.close()
    return serialized
  }

  await primeWebClasses()
  const outbox = new Outbox<FromWorker>((batch, transfer) => port.postMessage(batch, transfer), unsendable)
  const inFlight = new Map<number, AbortController>()
  const streams = new WorkerStreams(outbox)
  const background = new Set<Promise<unknown>>()
  let stopping = false
  let retiring = false
  const heapLimit = task.maxHeapMb * 1024 * 1024

  const log = (level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void => {
    outbox.push([LOG, level, message, fields])
  }
  const retire = (kind: 'recycle' | 'drain', why: string): void => {
    if (retiring) return
    retiring = true
    outbox.push([RETIRE, kind, why])
  }
  onStrayErrors(log, retire)

  const hooks = hooksOf(handler)
  // The connections pinned to this thread: the main side keeps the sockets, the hooks run here.
  const sockets = hooks === undefined
    ? undefined
    : new WebSocketSessions(hooks, (message, transfer) => outbox.push(message, transfer), (_conn, line, fields) => {
      log('error', line, { ...fields, err: serializeError(fields.err) })
    })

  const maybeStop = (): void => {
    if (stopping && inFlight.size === 0 && queue.length === 0 && (sockets?.size ?? 0) === 0) {
      stopping = false
      // The main side ends the thread when STOPPED arrives: a serve task that returned would leave the
      // thread (and the handler's module instances) in piscina's pool for the next worker to reuse.
      void Promise.all(background).then(() => {
        outbox.push([STOPPED])
        outbox.flush()
      })
    }
  }

  /**
   * workers.maxHeapMb: checked after each request. getHeapStatistics is this isolate's own (~1 µs); the
   * external part is what ArrayBuffers and Buffers hold outside the JS heap, which a leak fills as well.
   */
  const checkHeap = (): void => {
    if (heapLimit === 0 || retiring) return
    const stats = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory?: number }
    const used = stats.used_heap_size + (stats.external_memory ?? 0)
    if (used > heapLimit) retire('recycle', `heap ${Math.round(used / 1048576)} MiB is above workers.maxHeapMb (${task.maxHeapMb})`)
  }

  const run = (message: RequestMessage): void => {
    const [, seq, id, method, url, headers, body, remoteAddress, remotePort, httpVersion, secure] = message
    const controller = new AbortController()
    inFlight.set(seq, controller)
    const waitUntil = (promise: Promise<unknown>): void => {
      const tracked = Promise.resolve(promise).catch((error: unknown) => {
        log('error', 'ctx.waitUntil promise rejected', { reqId: id, err: serializeError(error) })
      })
      background.add(tracked)
      void tracked.finally(() => background.delete(tracked))
    }
    const settle = (): void => {
      inFlight.delete(seq)
      streams.finish(seq)
      checkHeap()
      maybeStop()
    }
    const call = { id, method, url, headers, body: body === true ? streams.requestBody(seq) : body, connection: remoteAddress === '' ? undefined : { remoteAddress, remotePort, httpVersion, secure } }
    const answered = (res: HandlerResponse): void => {
      // Still in flight while its body streams: an ABORT then cancels it, and the worker does not stop under it.
      if (res.body instanceof StreamedBody) return void streams.sendResponse(seq, res, res.body, controller.signal).then(settle)
      outbox.push([RESPONSE, seq, res.status, res.statusText, res.headers, res.body], res.body)
      settle()
    }
    const failed = (error: unknown): void => {
      outbox.push([FAILURE, seq, serializeError(error)])
      settle()
    }
    const answer = invokeHandler(handler, call, task.env, task.mode, controller, waitUntil)
    // A synchronous handler's answer goes into this batch's outbox now, not a microtask later.
    if (answer instanceof Promise) return void answer.then(answered, failed)
    try {
      answered(answer)
    } catch (error) {
      failed(error)
    }
  }

  // Requests of a batch start one after another in one macrotask while they are quick, so their responses
  // leave together. Once the batch has used YIELD_AFTER_MS of CPU (a synchronous, CPU-bound handler), the
  // worker yields a macrotask: the finished responses complete and leave before the next request's work,
  // instead of every response of the batch waiting for the whole batch (measured: cpu app 1.72x -> see README).
  const queue: RequestMessage[] = []
  let draining = false
  const drain = (): void => {
    outbox.flush()
    const started = performance.now()
    while (queue.length > 0) {
      run(queue.shift() as RequestMessage)
      if (queue.length > 0 && performance.now() - started > YIELD_AFTER_MS) {
        setImmediate(drain)
        return
      }
    }
    draining = false
    maybeStop()
  }

  port.on('message', (batch: ToWorker[]) => {
    for (const message of batch) {
      switch (message[0]) {
        case REQUEST:
          if (message[6] === true) streams.openRequestBody(message[1])
          queue.push(message)
          break
        case ABORT: abort(message[1]); break
        case REQUEST_CHUNK: streams.onRequestChunk(message[1], message[2]); break
        case REQUEST_END: streams.onRequestEnd(message[1], message[2]); break
        case RESPONSE_CREDIT: streams.onResponseCredit(message[1], message[2]); break
        case STOP: stopping = true; break
        case WS_OPEN: sockets?.open(message[1], message[2], message[3], message[4], message[5]); break
        case WS_MESSAGE: sockets?.message(message[1], message[2]); break
        case WS_CLOSED: sockets?.closed(message[1], message[2], message[3]); break
      }
    }
    if (!draining && queue.length > 0) {
      draining = true
      drain()
    }
    maybeStop()
  })

  const abort = (seq: number): void => {
    const controller = inFlight.get(seq)
    if (controller !== undefined) {
      controller.abort()
      return streams.finish(seq, controller.signal.reason)
    }
    // Not started yet: it never runs. The main side has answered it already, but waits to hear that no
    // handler is running for it (else it would think the thread hung).
    const index = queue.findIndex(message => message[1] === seq)
    if (index !== -1) {
      queue.splice(index, 1)
      outbox.push([FAILURE, seq, { code: 'WG_ERR_CLIENT_ABORTED', message: 'aborted before it started' }])
    }
    streams.finish(seq)
  }
  port.postMessage([[READY, PROTOCOL_VERSION, threadId, hooks !== undefined ? 1 : nodeUpgradeOf(handler) !== undefined ? 2 : 0]])
  // Runs until the main side terminates the thread (after STOPPED, or to replace it).
  await new Promise(() => {})
  return undefined
}

/** A message postMessage refused (a DataCloneError): a response becomes a failure, anything else a log line. */
function unsendable (message: FromWorker, error: unknown): FromWorker {
  const cause = serializeError(error)
  if (message[0] === RESPONSE) {
    return [FAILURE, message[1], { code: 'WG_ERR_HANDLER_RESULT', message: `the response cannot be sent to the main thread: ${cause.message}`, stack: cause.stack }]
  }
  return [LOG, 'error', 'a worker message could not be sent', { err: cause, tag: message[0] }]
}

let strayHandlersInstalled = false

/**
 * A rejection or throw that escapes a handler (a timer, a forgotten promise) would otherwise end the
 * thread and every request on it at once. An uncaught exception is logged and the thread retires: it
 * answers what it has in flight but takes nothing new, since its state is unknown (Node's docs: not safe
 * to resume after 'uncaughtException'). An unhandled rejection is logged only: it is common in sloppy
 * but working code, and replacing a thread for each would churn the pool.
 */
function onStrayErrors (
  log: (level: 'error', message: string, fields: Record<string, unknown>) => void,
  retire: (kind: 'drain', why: string) => void,
): void {
  if (strayHandlersInstalled) return
  strayHandlersInstalled = true
  process.on('unhandledRejection', (reason) => log('error', 'unhandled rejection in worker', { err: serializeError(reason) }))
  process.on('uncaughtException', (error) => {
    log('error', 'uncaught exception in worker; replacing this worker', { err: serializeError(error) })
    retire('drain', `uncaught exception: ${error instanceof Error ? error.message : String(error)}`)
  })
}
