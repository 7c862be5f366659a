// Renders the JSON of `warmgate bench --json FILE` as the self-contained HTML page of `--report`,
// e.g. to redraw an older run or one taken on another machine:
//
//   node bench/render-report.ts result.json out.html
//
// Exit code: 0 when the page was written, 1 with a one-line reason (unreadable file, not JSON, not a bench
// result) and nothing written otherwise.
import { readFileSync, writeFileSync } from 'node:fs'
import { renderHtmlReport } from '../src/bench/html-report.ts'
import type { BenchResult } from '../src/bench/types.ts'

class RenderFailure extends Error {}

/** The shape the page needs, checked once here: the renderer trusts it (and prints "n/a" for odd figures). */
function parseResult (text: string, file: string): BenchResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new RenderFailure(`${file}: not JSON (${(error as Error).message})`)
  }
  const expectObject = (what: unknown, path: string): Record<string, unknown> => {
    if (typeof what !== 'object' || what === null || Array.isArray(what)) throw new RenderFailure(`${file}: ${path}: expected an object, got ${JSON.stringify(what) ?? 'nothing'}`)
    return what as Record<string, unknown>
  }
  const expectArray = (what: unknown, path: string): unknown[] => {
    if (!Array.isArray(what)) throw new RenderFailure(`${file}: ${path}: expected an array, got ${JSON.stringify(what) ?? 'nothing'}`)
    return what
  }
  const result = expectObject(value, 'the top level')
  expectObject(result.machine, 'machine')
  expectObject(result.options, 'options')
  expectArray(result.apps, 'apps').forEach((app, i) => {
    const modes = expectArray(expectObject(app, `apps[${i}]`).modes, `apps[${i}].modes`)
    modes.forEach((mode, j) => {
      const m = expectObject(mode, `apps[${i}].modes[${j}]`)
      expectObject(m.requestsPerSecond, `apps[${i}].modes[${j}].requestsPerSecond`)
      expectObject(m.latencyMs, `apps[${i}].modes[${j}].latencyMs`)
    })
  })
  return value as BenchResult
}

function main (argv: string[]): number {
  if (argv.length !== 2) throw new RenderFailure('usage: node bench/render-report.ts RESULT.json OUT.html')
  const [input, output] = argv
  let text: string
  try {
    text = readFileSync(input, 'utf8')
  } catch (error) {
    throw new RenderFailure(`${input}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  const html = renderHtmlReport(parseResult(text, input))
  writeFileSync(output, html)
  process.stdout.write(`wrote ${output} (${Math.round(html.length / 1024)} KB)\n`)
  return 0
}

try {
  process.exitCode = main(process.argv.slice(2))
} catch (error) {
  process.stderr.write(`render-report: ${error instanceof RenderFailure ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.exitCode = 1
}
