import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { ROOT, within } from './gateway.ts'

// The real `warmgate start` as a child process (spawned without a shell, with the pinned Node 24), and a
// GET load loop that counts every failure (no retries: a failed request is reported, not hidden).

export const NODE = join(ROOT, 'node_modules', '.bin', 'node')
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts')

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface Cli {
  child: ChildProcess
  url: string
  stdout: () => string
  stderr: () => string
  exited: Promise<Exit>
  /** Resolves once stdout (or stderr) matches `re` after `from` characters; rejects if the process exits first. */
  waitFor: (re: RegExp, stream?: 'stdout' | 'stderr', from?: number) => Promise<RegExpMatchArray>
}

/** Spawns `warmgate start ...args` in `cwd` and waits (up to `startMs`) for its "listening on" line. */
export async function startCli (args: string[], cwd: string, startMs = 30_000, env: NodeJS.ProcessEnv = process.env): Promise<Cli> {
  const child = spawn(NODE, [MAIN, 'start', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const text = { stdout: '', stderr: '' }
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { text.stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { text.stderr += chunk })
  const waitFor = (re: RegExp, stream: 'stdout' | 'stderr' = 'stdout', from = 0): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const match = re.exec(text[stream].slice(from))
      if (match === null) return
      child[stream]?.off('data', check)
      resolve(match)
    }
    child[stream]?.on('data', check)
    check()
    void exited.then(exit => reject(new Error(`warmgate exited (${JSON.stringify(exit)}) before printing ${re}; stderr:\n${text.stderr}`)), reject)
  })
  const cli: Cli = { child, url: '', stdout: () => text.stdout, stderr: () => text.stderr, exited, waitFor }
  try {
    const [, url] = await within(startMs, `warmgate start ${args.join(' ')} printing its URL`, waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/))
    cli.url = url
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return cli
}

/** SIGKILLs the CLI if it still runs and waits for it: for afterEach. */
export async function killCli (cli: Cli): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await within(15_000, `warmgate ${cli.child.pid} exiting after SIGKILL`, cli.exited)
}

export interface LoadResult {
  ok: number
  failed: number
  /** The first few failures: status or error code and message. */
  failures: string[]
  /** Response bodies seen, with counts (the /pid fixture answers with a pid). */
  bodies: Map<string, number>
}

export interface LoadLoop {
  /** Stops issuing requests, waits for those in flight, and returns the counts. */
  stop: () => Promise<LoadResult>
  /** Requests answered so far (for waiting until traffic flows). */
  done: () => number
}

/**
 * `concurrency` loops of GET `url`, each request on a fresh connection (`reset`: Connection: close), so
 * the kernel picks a process for each. Every non-2xx answer or error counts as a failure; none is retried.
 */
export function loadLoop (url: string, concurrency = 4): LoadLoop {
  const agent = new Agent({ connectTimeout: 5000, headersTimeout: 10_000, bodyTimeout: 10_000 })
  const result: LoadResult = { ok: 0, failed: 0, failures: [], bodies: new Map() }
  let running = true
  const fail = (why: string): void => {
    result.failed++
    if (result.failures.length < 10) result.failures.push(why)
  }
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(url, { dispatcher: agent, reset: true })
        const body = await res.body.text()
        if (res.statusCode >= 200 && res.statusCode < 300) {
          result.ok++
          result.bodies.set(body, (result.bodies.get(body) ?? 0) + 1)
        } else {
          fail(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`)
        }
      } catch (error) {
        fail(`${(error as { code?: string }).code ?? ''} ${(error as Error).message}`)
      }
    }
  }
  const loops = Array.from({ length: concurrency }, loop)
  return {
    done: () => result.ok + result.failed,
    stop: async () => {
      running = false
      await within(20_000, 'the load loop finishing its requests in flight', Promise.all(loops))
      await within(5000, 'closing the load loop agent', agent.close())
      return result
    },
  }
}

/** Waits until `predicate` holds, polling every 50 ms, up to `ms`. */
export async function until (ms: number, label: string, predicate: () => boolean | Promise<boolean>): Promise<void> {
  await within(ms, label, (async () => {
    while (!(await predicate())) await new Promise(resolve => setTimeout(resolve, 50))
  })())
}

/** One GET on a fresh connection: status and body. */
export async function getOnce (url: string): Promise<{ status: number, body: string }> {
  const res = await within(10_000, `GET ${url}`, request(url, { reset: true }))
  return { status: res.statusCode, body: await within(10_000, `body of ${url}`, res.body.text()) }
}
