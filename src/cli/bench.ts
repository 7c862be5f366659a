// `warmgate bench`: parses and checks the flags, then calls bench() (src/bench/run.ts), the same API
// embedders use. Prints a live progress line, then the result tables; --json and --report write files.
// Exit code 0 when every run measured, 1 when any failed (after the whole report is printed and written).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatProgress, formatResult } from '../bench/text-report.ts'
import { BENCH_DEFAULTS, bench, WARMUP_MS } from '../bench/run.ts'
import { BENCH_MODES, LIMITS } from '../bench/select.ts'
import type { BenchMode, BenchProgress } from '../bench/types.ts'
import { benchHeaderProblem, benchMethodProblem, benchPathProblem } from '../config/schema.ts'
import { parseDuration } from '../config/units.ts'
import { fail } from './help.ts'

/** Seconds a run takes besides its load: start the gateway, the first request, stop it (measured here: ~1.5 s). */
const RUN_OVERHEAD_S = 1.5
/** Without a TTY to redraw a line in place, a progress line this often. */
const LOG_EVERY_MS = 5000

function integer (flag: string, raw: string | undefined, [min, max]: readonly [number, number]): number | undefined {
  if (raw === undefined) return undefined
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) fail(`--${flag}: expected an integer from ${min} to ${max}, got '${raw}'`)
  return Number(raw)
}

/** `10s`, `1m`, `5000ms`, or a plain number of seconds; whole seconds (wrk counts seconds). */
function duration (raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined
  const ms = /^\d+(?:\.\d+)?$/.test(raw.trim()) ? Number(raw) * 1000 : parseDuration(raw)
  const [min, max] = LIMITS.durationMs
  if (ms === undefined || ms < min || ms > max || ms % 1000 !== 0) fail(`--duration: expected whole seconds from ${min / 1000}s to ${max / 1000}s, such as 10s or 1m, got '${raw}'`)
  return ms
}

/** A flag's value in a message: quoted, JSON-escaped when it holds a control character (a line break). */
function quoted (raw: string): string {
  return /^[\x20-\x7e]*$/.test(raw) ? `'${raw}'` : JSON.stringify(raw)
}

function checked (flag: string, raw: string | undefined, problem: (value: string) => string | undefined): string | undefined {
  if (raw === undefined) return undefined
  const expected = problem(raw)
  if (expected !== undefined) fail(`--${flag}: expected ${expected}, got ${quoted(raw)}`)
  return raw
}

/** `--body TEXT`, or `--body @FILE`: the file's bytes, as they are. */
function body (raw: string | undefined): string | Buffer | undefined {
  if (raw === undefined || !raw.startsWith('@')) return raw
  const file = raw.slice(1)
  if (file === '') fail("--body: expected text, or @FILE to send a file's contents, got '@'")
  try {
    return readFileSync(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return fail(`--body: cannot read ${file}${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': it is a directory' : `: ${(error as Error).message}`}`)
  }
}

/** `--header 'name: value'`, repeatable; a name given twice keeps its last value. */
function headers (raw: string[] | undefined): Record<string, string> | undefined {
  if (raw === undefined) return undefined
  const out: Record<string, string> = {}
  for (const item of raw) {
    const colon = item.indexOf(':')
    if (colon < 1) fail(`--header: expected 'name: value', such as 'content-type: application/json', got ${quoted(item)}`)
    const name = item.slice(0, colon).trim()
    const value = item.slice(colon + 1).trim()
    const problem = benchHeaderProblem(name, value)
    if (problem !== undefined) fail(`--header: expected ${problem.expected}, got ${quoted(String(problem.got))}${problem.got === name ? '' : ` (header ${name})`}`)
    out[name.toLowerCase()] = value
  }
  return out
}

function list (raw: string[] | undefined): string[] | undefined {
  return raw?.flatMap(item => item.split(',')).map(item => item.trim())
}

/** The directory a file is written to must exist before a run of minutes, not after. */
function outputFile (flag: string, raw: string | undefined, extension?: string): string | undefined {
  if (raw === undefined) return undefined
  if (raw.trim() === '') fail(`--${flag}: expected a file name, got ''`)
  if (extension !== undefined && !raw.toLowerCase().endsWith(extension)) fail(`--${flag}: expected a file name ending in ${extension}, got '${raw}'`)
  const file = resolve(raw)
  if (!existsSync(dirname(file)) || !statSync(dirname(file)).isDirectory()) fail(`--${flag}: directory ${dirname(file)} does not exist`)
  return file
}

function progressPrinter (): { update: (p: BenchProgress) => void, done: () => void } {
  if (process.stdout.isTTY === true) {
    let shown = false
    return {
      update: (p) => {
        // A failed run's line stays: the next run's progress is drawn below it.
        shown = p.failed === undefined
        process.stdout.write(`\r\x1b[K${formatProgress(p)}${p.failed === undefined ? '' : '\n'}`)
      },
      done: () => { if (shown) process.stdout.write('\r\x1b[K') },
    }
  }
  let last = { key: '', at: 0 }
  return {
    update: (p) => {
      const key = `${p.app} ${p.mode} ${p.round}`
      if (p.failed === undefined && key === last.key && performance.now() - last.at < LOG_EVERY_MS) return
      last = { key, at: performance.now() }
      process.stdout.write(`${formatProgress(p)}\n`)
    },
    done: () => {},
  }
}

export async function run (argv: string[]): Promise<void> {
  let values: Record<string, string | string[] | undefined>
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        app: { type: 'string', multiple: true },
        modes: { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        rounds: { type: 'string' },
        json: { type: 'string' },
        report: { type: 'string' },
        path: { type: 'string' },
        method: { type: 'string' },
        body: { type: 'string' },
        header: { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | string[] | undefined> })
  } catch (error) {
    fail(`${(error as Error).message} (see warmgate bench --help)`)
  }
  const apps = list(values.app as string[] | undefined)
  if (apps?.some(name => name === '') === true) fail(`--app: expected app names separated by commas, got '${(values.app as string[]).join(',')}'`)
  const modes = list(values.modes === undefined ? undefined : [values.modes as string])
  for (const mode of modes ?? []) if (!BENCH_MODES.includes(mode as BenchMode)) fail(`--modes: expected a comma-separated list of ${BENCH_MODES.join(', ')}, got '${values.modes as string}'`)
  const durationMs = duration(values.duration as string | undefined)
  const connections = integer('connections', values.connections as string | undefined, LIMITS.connections)
  const rounds = integer('rounds', values.rounds as string | undefined, LIMITS.rounds)
  const json = outputFile('json', values.json as string | undefined)
  const report = outputFile('report', values.report as string | undefined, '.html')
  if (values.config !== undefined && !existsSync(values.config as string)) fail(`--config: file not found: ${values.config as string}`)
  const path = checked('path', values.path as string | undefined, benchPathProblem)
  const method = checked('method', values.method as string | undefined, benchMethodProblem)
  const requestHeaders = headers(values.header as string[] | undefined)
  const requestBody = body(values.body as string | undefined)

  const controller = new AbortController()
  const onSignal = (signal: string): void => {
    if (controller.signal.aborted) process.exit(1)
    process.stderr.write(`\nwarmgate bench: ${signal}, stopping the gateways and the load generator\n`)
    controller.abort(new Error(signal))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const progress = progressPrinter()
  let announced = false
  const result = await bench({
    config: values.config as string | undefined,
    apps,
    modes: modes as BenchMode[] | undefined,
    durationMs,
    connections,
    rounds,
    path,
    method,
    body: requestBody,
    headers: requestHeaders,
    signal: controller.signal,
    onProgress: (p) => {
      if (!announced) {
        announced = true
        process.stdout.write(`warmgate bench: ${estimate(p.runs, durationMs ?? BENCH_DEFAULTS.durationMs)}\n`)
      }
      progress.update(p)
    },
  }).finally(() => progress.done())
  process.stdout.write(`${formatResult(result)}\n`)
  if (json !== undefined) {
    writeFileSync(json, JSON.stringify(result, null, 2) + '\n')
    process.stdout.write(`Result written to ${json}\n`)
  }
  if (report !== undefined) {
    const { renderHtmlReport } = await import('../bench/html-report.ts')
    writeFileSync(report, renderHtmlReport(result))
    process.stdout.write(`Report written to ${report}\n`)
  }
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  if (result.runs.failed > 0) {
    // After the report and the files: what finished is kept; the exit code says that not everything did.
    process.stderr.write(`warmgate: bench: ${result.runs.failed} of ${result.runs.total} runs failed (see FAILED above); exit code 1\n`)
    process.exitCode = 1
  }
}

function estimate (runs: number, durationMs: number): string {
  const perRun = durationMs / 1000 + WARMUP_MS / 1000 + RUN_OVERHEAD_S
  return `${runs} runs of about ${Math.round(perRun)} s each (${durationMs / 1000} s measured, ${WARMUP_MS / 1000} s warm-up, start and stop): about ${Math.round(runs * perRun)} s in all`
}
