import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { renderHtmlReport } from '../../src/bench/html-report.ts'
import type { BenchResult } from '../../src/bench/types.ts'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'

// bench/render-report.ts, run as a user would: the pinned Node 24 on a JSON file.
const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const SCRIPT = join(ROOT, 'bench', 'render-report.ts')
const RESULT = join(FIXTURES, 'bench', 'result.json')
const RUN_MS = 15_000

interface Run { code: number | null, stdout: string, stderr: string }

function run (...args: string[]): Promise<Run> {
  return within(RUN_MS, `node bench/render-report.ts ${args.join(' ')}`, new Promise(resolve => {
    const child = execFile(NODE, [SCRIPT, ...args], { timeout: RUN_MS }, (_error, stdout, stderr) => {
      resolve({ code: child.exitCode, stdout, stderr })
    })
  }))
}

let dir = ''
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'wg-render-report-')) })
afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

describe('bench/render-report.ts', () => {
  it('writes the page renderHtmlReport makes of the JSON file', async () => {
    const out = join(dir, 'report.html')
    const { code, stdout, stderr } = await run(RESULT, out)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toContain(`wrote ${out}`)
    const result = JSON.parse(readFileSync(RESULT, 'utf8')) as BenchResult
    expect(readFileSync(out, 'utf8')).toBe(renderHtmlReport(result))
  }, 20_000)

  it('exits 1 with a one-line reason and writes nothing for a file that is not a bench result', async () => {
    const out = join(dir, 'report.html')
    const cases: Array<[content: string | null, reason: RegExp]> = [
      [null, /cannot read \(ENOENT\)/],
      ['{ "apps": [', /not JSON/],
      ['[]', /the top level: expected an object/],
      ['{ "machine": {}, "options": {}, "apps": {} }', /apps: expected an array/],
      ['{ "machine": {}, "options": {}, "apps": [{ "app": "a", "modes": [{ "latencyMs": {} }] }] }', /apps\[0\]\.modes\[0\]\.requestsPerSecond: expected an object/],
    ]
    for (const [content, reason] of cases) {
      const input = join(dir, 'in.json')
      rmSync(input, { force: true })
      if (content !== null) writeFileSync(input, content)
      const { code, stderr } = await run(input, out)
      expect(code, stderr).toBe(1)
      expect(stderr).toMatch(reason)
      expect(stderr.trim().split('\n'), 'one line, no stack').toHaveLength(1)
      expect(existsSync(out)).toBe(false)
    }
    const usage = await run(RESULT)
    expect(usage.code).toBe(1)
    expect(usage.stderr).toContain('usage: node bench/render-report.ts RESULT.json OUT.html')
  }, 60_000)
})
