import { dirname } from 'node:path'
import { GatewayError } from '../../errors.ts'
import { HANDLER_OPTIONS_ENV, handlerOptionsOf } from '../../handler/options.ts'
import type { CgiChild, SpawnSpec } from '../../spawn/spawner.ts'
import type { BufferedRequest, GatewayResponse } from '../../types.ts'
import { runCgi } from '../cgi/cgi-exchange.ts'
import { cgiEnvironment, pathOf } from '../cgi/cgi-request.ts'
import { coldRunner } from './build-runner.ts'
import { COMPILE_CACHE } from '../compile-cache.ts'
import { ProcessRuntime } from '../process-runtime.ts'

const START_CHECK_MS = 30_000
/**
 * --expose-internals: the runner reaches Node's fetch classes without loading them up front
 * (handler/native-fetch.ts), so that a handler answering text never pays ~22 ms for undici.
 * --disable-warning: on Node 22, type stripping and require() of an ES module each print an
 * ExperimentalWarning, which would be logged from every cold request's stderr.
 */
const RUNNER_FLAGS = ['--expose-internals', '--disable-warning=ExperimentalWarning']
/**
 * Cold mode: every request starts a fresh Node process running cold.runner.ts, which speaks CGI/1.1
 * with us exactly as any CGI script would, and calls the handler module the other modes call.
 */
export class ColdRuntime extends ProcessRuntime {
  readonly mode = 'cold' as const
  /** ctx.waitUntil work runs after the response (the runner closes stdout first), up to the app's timeout. */
  protected override readonly keepsRunningAfterResponse = true
  /** cold.runner.ts built into one file (build-runner.ts says why): what every cold request starts. */
  #runner = ''

  /** Imports the handler once in a throw-away process, so a broken module fails at start-up as in the other modes. */
  protected async onStart (): Promise<void> {
    this.#runner = await coldRunner()
    const env = this.#baseEnv()
    env.WARMGATE_CHECK = '1'
    const controller = new AbortController()
    // Its own limit, not the app's timeout: a first import without a compile cache on a busy machine can
    // take longer than a short request timeout, and a start-up that fails for that would be wrong.
    const limit = Math.max(this.app.timeoutMs, START_CHECK_MS)
    const timer = setTimeout(() => controller.abort(new GatewayError('WG_ERR_HANDLER_LOAD', `handler module ${this.app.entry} did not finish loading within ${limit} ms`)), limit)
    try {
      // A broken module makes the runner exit with a load/invalid code, which runCgi turns into that error.
      const res = await runCgi(this.#spec(env, null), controller.signal, { spawner: this.hooks.spawner, log: this.hooks.log, reqId: 'start-up', runner: true })
      if (res.status !== 204) throw new GatewayError('WG_ERR_HANDLER_LOAD', `the cold runner answered its start-up check with status ${res.status}`)
    } finally {
      clearTimeout(timer)
    }
  }

  protected run (req: BufferedRequest, signal: AbortSignal, track: (child: CgiChild) => void): Promise<GatewayResponse> {
    // The app's `env` goes to the handler's env argument only (WARMGATE_APP_ENV), never into process.env,
    // where a NODE_OPTIONS or NODE_COMPILE_CACHE in it would change how the runner itself starts.
    const env = { ...this.#baseEnv(), ...cgiEnvironment(this.app, req, {
      scriptName: this.app.route === '/' ? '' : this.app.route,
      pathInfo: safeDecode(pathOf(req.url).slice(this.app.route === '/' ? 0 : this.app.route.length)),
      scriptFilename: this.app.entry,
      documentRoot: dirname(this.app.entry),
      // The handler is the app's own code, as in warm and inline mode: it sees every header.
      passAuthorization: true,
    }) }
    env.WARMGATE_REQUEST_ID = req.id
    env.WARMGATE_APP_ENV = JSON.stringify(this.app.env)
    // A Lambda event keeps repeated headers apart (multiValueHeaders); HTTP_* variables join them.
    if (this.app.kind !== 'fetch') env.WARMGATE_RAW_HEADERS = JSON.stringify(req.headers)
    return runCgi(this.#spec(env, req.body), signal, { spawner: this.hooks.spawner, log: this.hooks.log, reqId: req.id, runner: true, onChild: track })
  }

  #baseEnv (): Record<string, string> {
    const env: Record<string, string> = { NODE_COMPILE_CACHE: COMPILE_CACHE, [HANDLER_OPTIONS_ENV]: JSON.stringify(handlerOptionsOf(this.app)) }
    for (const name of ['PATH', ...this.app.passEnv]) {
      const value = process.env[name]
      if (value !== undefined) env[name] = value
    }
    return env
  }

  #spec (env: Record<string, string>, stdin: Uint8Array | null): SpawnSpec {
    return { file: process.execPath, args: [...RUNNER_FLAGS, this.#runner, this.app.entry], env, cwd: dirname(this.app.entry), stdin }
  }
}

/** RFC 3875 §4.1.5: PATH_INFO is decoded; bytes an environment cannot hold (NUL) leave it as sent. */
function safeDecode (path: string): string {
  try {
    const decoded = decodeURIComponent(path)
    return decoded.includes('\0') ? path : decoded
  } catch {
    return path
  }
}
