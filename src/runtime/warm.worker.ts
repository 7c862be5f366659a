// Worker side of warm mode: runs inside a piscina thread. Imports only protocol/, handler/ and errors.ts,
// never main-side modules.
import { serializeError, type SerializedError } from '../errors.ts'
import { invokeHandler } from '../handler/invoke.ts'
import { loadHandler } from '../handler/load.ts'
import { primeWebClasses } from '../handler/prime.ts'
import {
  ABORT, FAILURE, LOAD_FAILED, LOG, Outbox, PROTOCOL_VERSION, READY, REQUEST, RESPONSE, STOP,
  type FromWorker, type RequestMessage, type ServeTask, type ToWorker,
} from '../protocol/messages.ts'
import type { FetchHandler } from '../types.ts'

/**
 * piscina task that owns its thread for the worker's whole life: it imports the handler once, then
 * answers requests arriving on its own MessagePort until told to stop. Requests do not go through
 * `piscina.run()` (one task per request costs ~2× the hop, PERF-NOTES.md); piscina owns thread
 * creation, resource limits and termination.
 */
export default async function serve (task: ServeTask): Promise<SerializedError | undefined> {
  const port = task.port
  let handler: FetchHandler
  try {
    handler = await loadHandler(task.entry)
  } catch (error) {
    // Returned as the task's result as well: the port and piscina's own channel are not ordered together.
    const serialized = serializeError(error)
    port.postMessage([[LOAD_FAILED, serialized]])
    port.close()
    return serialized
  }

  await primeWebClasses()
  const outbox = new Outbox<FromWorker>((batch, transfer) => port.postMessage(batch, transfer))
  const inFlight = new Map<number, AbortController>()
  const background = new Set<Promise<unknown>>()
  let stopping = false
  let stopped!: () => void
  const done = new Promise<void>(resolve => { stopped = resolve })

  const log = (level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void => {
    outbox.push([LOG, level, message, fields])
  }
  onStrayErrors(log)

  const maybeStop = (): void => {
    if (stopping && inFlight.size === 0) {
      void Promise.all(background).then(() => {
        outbox.flush()
        port.close()
        stopped()
      })
    }
  }

  const run = (message: RequestMessage): void => {
    const [, seq, id, method, url, headers, body] = message
    const controller = new AbortController()
    inFlight.set(seq, controller)
    const waitUntil = (promise: Promise<unknown>): void => {
      const tracked = Promise.resolve(promise).catch((error: unknown) => {
        log('error', 'ctx.waitUntil promise rejected', { reqId: id, err: serializeError(error) })
      })
      background.add(tracked)
      void tracked.finally(() => background.delete(tracked))
    }
    invokeHandler(handler, { id, method, url, headers, body }, task.env, 'warm', controller.signal, waitUntil).then(
      (res) => {
        inFlight.delete(seq)
        outbox.push([RESPONSE, seq, res.status, res.statusText, res.headers, res.body], res.body)
        maybeStop()
      },
      (error: unknown) => {
        inFlight.delete(seq)
        outbox.push([FAILURE, seq, serializeError(error)])
        maybeStop()
      },
    )
  }

  port.on('message', (batch: ToWorker[]) => {
    for (const message of batch) {
      switch (message[0]) {
        case REQUEST: run(message); break
        case ABORT: inFlight.get(message[1])?.abort(); break
        case STOP: stopping = true; maybeStop(); break
      }
    }
  })
  port.postMessage([[READY, PROTOCOL_VERSION]])
  await done
  return undefined
}

let strayHandlersInstalled = false

/**
 * A rejection or throw that escapes a handler (a timer, a forgotten promise) would otherwise end the
 * thread and every request on it. Log it with the thread's bindings and keep serving.
 */
function onStrayErrors (log: (level: 'error', message: string, fields: Record<string, unknown>) => void): void {
  if (strayHandlersInstalled) return
  strayHandlersInstalled = true
  process.on('unhandledRejection', (reason) => log('error', 'unhandled rejection in worker', { err: serializeError(reason) }))
  process.on('uncaughtException', (error) => log('error', 'uncaught exception in worker', { err: serializeError(error) }))
}
