import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatProgress, formatResult } from '../../src/bench/text-report.ts'
import type { BenchResult } from '../../src/bench/types.ts'
import { FIXTURES } from '../helpers/gateway.ts'

// The text `warmgate bench` prints, from the hand-built result the HTML report's tests use too.
function fixture (): BenchResult {
  return JSON.parse(readFileSync(join(FIXTURES, 'bench', 'result.json'), 'utf8')) as BenchResult
}

describe('formatResult', () => {
  it('names the request of each app, lists its failed runs (one line per mode and reason) and counts them', () => {
    const result = fixture()
    const [hello, cgi] = result.apps
    Object.assign(hello, { method: 'PUT', path: '/hello/1?x=2', headers: { 'content-type': 'text/plain', authorization: '(hidden)' }, bodyBytes: 1234 })
    hello.failures = [
      { mode: 'warm', round: 2, stage: 'start', reason: "the gateway for app 'hello' in mode warm exited during start-up (code 1, signal null):\n  out of memory" },
    ]
    cgi.modes = []
    cgi.failures = [1, 2, 3].map(round => ({ mode: 'cgi' as const, round, stage: 'first-request' as const, reason: 'GET /scripts/hello.sh answered 500' }))
    result.runs = { total: 12, failed: 4 }
    const text = formatResult(result)
    expect(text).toContain('\nhello (PUT /hello/1?x=2, 1,234-byte body, content-type: text/plain, authorization: (hidden))\n' +
      "  FAILED warm, round 2 (start-up): the gateway for app 'hello' in mode warm exited during start-up (code 1, signal null):\n      out of memory\n  mode ")
    expect(text).toMatch(/^\s+inline\s+17,844 \(17,210–18,121\)/m)
    expect(text).toContain('\nsh-hello (GET /cgi-bin/hello.sh?name=world)\n  FAILED cgi, rounds 1, 2 and 3 (first request): GET /scripts/hello.sh answered 500\n  no run of this app succeeded: nothing measured\n')
    expect(text).toContain('\nFAILED: 4 of 12 runs measured nothing (listed under their app)')
  })

  it('prints a result of an older version (no request fields, no failures) as before', () => {
    const text = formatResult(fixture())
    expect(text).toMatch(/^hello \(GET \/hello\)$/m)
    expect(text).not.toContain('FAILED')
  })
})

describe('formatProgress', () => {
  it("prints a failed run's reason, first line only", () => {
    const p = { app: 'api', mode: 'warm' as const, round: 1, rounds: 3, run: 2, runs: 9, elapsedMs: 0, durationMs: 6000, currentRps: 0 }
    expect(formatProgress({ ...p, elapsedMs: 1500, currentRps: 1234 })).toBe('[2/9] api warm · round 1/3 · 1.5/6 s · 1,234 req/s')
    expect(formatProgress({ ...p, failed: 'the gateway exited during start-up:\n  boom' })).toBe('[2/9] api warm · round 1/3 · FAILED: the gateway exited during start-up: …')
  })
})
