import { threadId } from 'node:worker_threads'

// Module-level state: set once when the module is imported, kept for as long as the worker lives.
const instance = Math.random().toString(36).slice(2, 10)
let count = 0

/** Counts requests in this module instance; `instance` changes only when the module is imported again. */
export default function counter (_request: Request, _env: unknown, ctx: { mode: string }): Response {
  count++
  return Response.json({ count, instance, threadId, mode: ctx.mode })
}
