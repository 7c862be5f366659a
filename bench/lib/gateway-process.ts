import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { eachLine, stopChild, track } from './children.ts'

const NODE = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url))
const SERVE = fileURLToPath(new URL('./serve.ts', import.meta.url))
const BARE = fileURLToPath(new URL('./bare.ts', import.meta.url))

export interface GatewaySpec {
  app: 'hello' | 'cpu' | 'stream' | 'io' | 'big' | 'express' | 'ws-echo'
  /** `bare`: the node:http control server (bench/lib/bare.ts), not the gateway. */
  mode: 'warm' | 'inline' | 'bare'
  workers?: { min: number, max: number }
  logLevel: string
  /** Directory for `--cpu-prof` output, or undefined for no profiling. */
  cpuProfDir?: string
}

export interface GatewayProcess {
  url: string
  pid: number
  child: ChildProcess
  /** Lines the gateway logged (pino JSON at the chosen level) and wrote to stderr. */
  logLines: string[]
  stop (): Promise<void>
}

export function nodeBinary (): string {
  return NODE
}

/** Starts bench/lib/serve.ts and resolves once it prints its URL (at most `timeoutMs`). */
export async function startGateway (spec: GatewaySpec, timeoutMs = 30_000): Promise<GatewayProcess> {
  const script = spec.mode === 'bare' ? BARE : SERVE
  const args = spec.mode === 'bare' ? [] : ['--app', spec.app, '--mode', spec.mode, '--log-level', spec.logLevel]
  if (spec.workers !== undefined) args.push('--min', String(spec.workers.min), '--max', String(spec.workers.max))
  return startServerProcess(script, args, spec.cpuProfDir, timeoutMs)
}

/**
 * Starts a node script that serves on 127.0.0.1 and prints one JSON line with `warmgateBenchReady`, its
 * URL and pid (serve.ts, bare.ts, node-peer.ts); resolves once it has (at most `timeoutMs`).
 */
export async function startServerProcess (script: string, args: string[], cpuProfDir: string | undefined, timeoutMs = 30_000): Promise<GatewayProcess> {
  // The same flags for every mode, so that a knob measured here never favours one side.
  const nodeArgs: string[] = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  if (cpuProfDir !== undefined) {
    mkdirSync(cpuProfDir, { recursive: true })
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`)
  }
  // stdin stays a pipe we hold open: serve.ts exits when it closes, even if this process is SIGKILLed.
  const child = track(spawn(NODE, [...nodeArgs, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }))
  const logLines: string[] = []
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-64 * 1024)
  })

  try {
    const ready = await new Promise<{ url: string, pid: number }>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => done(new Error(`${script} did not start within ${timeoutMs} ms`)), timeoutMs)
      const done = (error: Error | undefined, value?: { url: string, pid: number }): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (error !== undefined) reject(error)
        else resolve(value as { url: string, pid: number })
      }
      eachLine(child.stdout, (line) => {
        if (!settled && line.includes('"warmgateBenchReady"')) {
          try {
            const parsed = JSON.parse(line) as { url: string, pid: number }
            done(undefined, parsed)
          } catch (error) {
            done(error as Error)
          }
        } else if (line.trim() !== '' && logLines.length < 1000) {
          logLines.push(line)
        }
      })
      child.once('error', (error) => done(error))
      child.once('exit', (code, signal) => done(new Error(`${script} exited during start-up (code ${code}, signal ${signal})`)))
    })
    if (!ready.url.startsWith('http://127.0.0.1:')) throw new Error(`gateway listens on ${ready.url}, expected 127.0.0.1`)
    if (ready.pid !== child.pid) throw new Error(`gateway reports pid ${ready.pid}, spawned ${child.pid}: RSS would be read from the wrong process`)
    return {
      url: ready.url,
      pid: child.pid as number,
      child,
      logLines,
      stop: async () => {
        await stopChild(child)
        if (stderr.trim() !== '') logLines.push(...stderr.trim().split('\n').map(line => `stderr: ${line}`))
      },
    }
  } catch (error) {
    await stopChild(child, 2000)
    throw new Error(`${(error as Error).message}${stderr.trim() === '' ? '' : `\n--- gateway stderr ---\n${stderr.trim()}`}`)
  }
}
