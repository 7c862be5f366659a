import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderHtmlReport } from '../../src/bench/html-report.ts'
import type { BenchResult, ModeResult } from '../../src/bench/types.ts'
import { FIXTURES } from '../helpers/gateway.ts'

// A hand-built result: hello in inline, warm and cold (cold ~1000× below the others), and one cgi app.
// Read fresh for every test, so a test may change its copy.
function fixture (): BenchResult {
  return JSON.parse(readFileSync(join(FIXTURES, 'bench', 'result.json'), 'utf8')) as BenchResult
}

const svgsOf = (html: string): string[] => html.match(/<svg[\s\S]*?<\/svg>/g) ?? []
const sectionsOf = (html: string): string[] => html.split('<section').slice(1)
const count = (html: string, needle: string): number => html.split(needle).length - 1
const rectWidths = (svg: string): number[] => [...svg.matchAll(/<rect [^>]*width="([^"]+)"/g)].map(match => Number(match[1]))

describe('renderHtmlReport', () => {
  it('writes one page with one <svg> per chart: throughput and latency for each app', () => {
    const html = renderHtmlReport(fixture())
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true)
    expect(html.trimEnd().endsWith('</html>')).toBe(true)
    expect(svgsOf(html)).toHaveLength(4)
    for (const tag of ['svg', 'section', 'figure', 'table', 'header', 'footer', 'style']) {
      expect(count(html, `<${tag}`), `<${tag}> opened as often as closed`).toBe(count(html, `</${tag}>`))
    }
    const sections = sectionsOf(html)
    expect(sections).toHaveLength(2)
    expect(svgsOf(sections[0])).toHaveLength(2)
    expect(svgsOf(sections[1])).toHaveLength(2)
  })

  it('states the date, the machine and the load used, cold mode\'s own included', () => {
    const header = renderHtmlReport(fixture()).split('</header>')[0]
    for (const text of ['2025-05-14 09:30 UTC', 'Node v24.9.0', '2 CPUs (Intel(R) Xeon(R) CPU @ 2.20GHz)', 'load average 0.42 0.61 0.55',
      '32 connections for 10 s', '3 interleaved rounds', '4 connections for 5 s', 'wrk 4.2.0', '2 min 32 s']) {
      expect(header).toContain(text)
    }
  })

  it('prints every mode\'s name with its median requests/s and latency percentiles, and its ratio to inline', () => {
    const [hello, cgi] = sectionsOf(renderHtmlReport(fixture()))
    const [throughput, latency] = svgsOf(hello)
    for (const text of ['>inline<', '>warm<', '>cold<', '17,844 req/s · baseline', '16,512 req/s · 0.93× inline', '14.6 req/s · 1/1,222 of inline']) {
      expect(throughput).toContain(text)
    }
    for (const text of ['>p50<', '>p90<', '>p99<', '1.71 ms', '2.34 ms', '4.12 ms · baseline', '1.86 ms', '5.24 ms · 1.27× inline', '268 ms', '412 ms · 100× inline']) {
      expect(latency).toContain(text)
    }
    expect(svgsOf(cgi)[0]).toContain('>cgi<')
    expect(svgsOf(cgi)[0]).toContain('413 req/s')
    expect(cgi).not.toContain('inline')
  })

  it('tabulates every figure of each mode: spreads, errors, memory, CPU and first request', () => {
    const table = sectionsOf(renderHtmlReport(fixture()))[0].split('<table>')[1]
    for (const text of ['4 connections × 5 s', '17,844 (17,210–18,121)', '1/1,222 of inline', '1.27× inline', '21.5 (15.2–30.1)',
      '<td class="bad">non-2xx 0, timeouts 1, resets 0, other 0</td>', '88.4 (86.1–90.2)', '19.6 (18.8–20.4)',
      '0.052 (0.050–0.055)', '121 (117–127)', '241 (233–259)', '9.80 (8.70–12.1)']) {
      expect(table).toContain(text)
    }
  })

  it('draws requests/s on a labelled log axis when cold is ~1000× below, with bars in the order of the figures', () => {
    const [hello, cgi] = sectionsOf(renderHtmlReport(fixture()))
    const [throughput] = svgsOf(hello)
    expect(throughput).toContain('requests/s, log scale')
    expect(hello).toContain('Log axis, each gridline 10× the one before')
    for (const tick of ['>10<', '>100<', '>1k<', '>10k<', '>100k<']) expect(throughput).toContain(tick)
    const [inline, warm, cold] = rectWidths(throughput)
    expect(inline).toBeGreaterThan(warm)
    expect(warm).toBeGreaterThan(cold)
    expect(cold).toBeGreaterThan(0)
    // One mode alone spans no orders of magnitude: a linear axis from 0.
    expect(svgsOf(cgi)[0]).toContain('requests/s, linear scale')
  })

  it('colours a mode the same in every chart and labels every bar with text', () => {
    const html = renderHtmlReport(fixture())
    const fills = (svg: string): Set<string> => new Set([...svg.matchAll(/fill="(#[0-9a-f]{6})"/g)].map(match => match[1]))
    const [throughput, latency] = svgsOf(sectionsOf(html)[0])
    expect(fills(throughput).size).toBe(3)
    expect(fills(latency)).toEqual(fills(throughput))
    expect(count(throughput, '<rect')).toBe(count(throughput, 'class="value"'))
    expect(count(latency, '<rect')).toBe(count(latency, 'class="value"'))
  })

  it('keeps every coordinate of every chart finite and inside its viewBox', () => {
    for (const svg of svgsOf(renderHtmlReport(fixture()))) {
      const [, width, height] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg) ?? []
      for (const match of svg.matchAll(/ (x|x1|x2|width|y|y1|y2|height)="([^"]*)"/g)) {
        const value = Number(match[2])
        expect(Number.isFinite(value), `${match[0]}`).toBe(true)
        expect(value).toBeGreaterThanOrEqual(0)
        expect(value).toBeLessThanOrEqual(match[1].startsWith('x') || match[1] === 'width' ? Number(width) : Number(height))
      }
    }
  })

  it('fetches nothing: no URL, script, stylesheet link, image or font', () => {
    const html = renderHtmlReport(fixture())
    expect(html).not.toMatch(/https?:\/\//i)
    expect(html).not.toMatch(/url\(|@import|<script|<link|<img|<iframe|\ssrc=|\shref=|xmlns/i)
  })

  it('escapes strings from the result: an app named <script> injects no markup and no URL', () => {
    const result = fixture()
    const hello = result.apps[0]
    hello.app = '<script>alert(1)</script>'
    hello.route = '/x" onmouseover="alert(2)'
    hello.path = 'http://evil.example/?a=1&b=<i>'
    result.options.loadGenerator = 'wrk <b>4</b> https://evil.example/wrk.js'
    result.machine.cpuModel = "Xeon' onload='alert(3)"
    hello.modes[1].mode = '<img src=x>' as ModeResult['mode']
    const html = renderHtmlReport(result)
    expect(html).not.toMatch(/<script|<img|<i>|<b>|onmouseover="|onload='/)
    expect(html).not.toMatch(/https?:\/\//i)
    expect(html).toContain('<h2 id="app-0">&lt;script&gt;alert(1)&lt;/script&gt;</h2>')
    expect(html).toContain('aria-label="&lt;script&gt;alert(1)&lt;/script&gt;&#58; requests per second by mode"')
    expect(html).toContain('/x&quot; onmouseover=&quot;alert(2)')
    expect(html).toContain('http&#58;//evil.example/?a=1&amp;b=&lt;i&gt;')
    expect(html).toContain('&lt;img src=x&gt;')
  })

  it('prints no ratio when inline was not run', () => {
    const result = fixture()
    result.apps[0].modes = result.apps[0].modes.filter(mode => mode.mode !== 'inline')
    for (const mode of result.apps[0].modes) delete mode.vsInline
    const html = renderHtmlReport(result)
    expect(svgsOf(html)).toHaveLength(4)
    expect(html).not.toMatch(/× inline|of inline|baseline|vs inline|ratio to inline/)
    expect(html).toContain('16,512 req/s')
    expect(html).toContain('14.6 req/s')
  })

  it('prints n/a and draws no NaN or Infinity for a mode with zero requests', () => {
    const result = fixture()
    const [inline, warm, cold] = result.apps[0].modes
    const empty = { median: 0, min: 0, max: 0 }
    // A mode that answered nothing: figures are 0, or null where a NaN went through JSON.
    const nothing = JSON.parse(JSON.stringify({ median: Number.NaN, min: Number.NaN, max: Number.NaN })) as typeof empty
    Object.assign(cold, {
      requestsPerSecond: empty,
      latencyMs: { p50: nothing, p90: nothing, p99: nothing, max: nothing },
      cpuMsPerRequest: { median: Number.NaN, min: Number.NaN, max: Number.NaN },
      firstRequestMs: { median: Number.POSITIVE_INFINITY, min: 1, max: Number.POSITIVE_INFINITY },
      vsInline: { requestsPerSecond: 0, p99: Number.NaN },
    })
    // And an app where no mode answered at all, inline included (ratios divide by zero).
    const idle = structuredClone(result.apps[0])
    idle.app = 'idle'
    for (const mode of idle.modes) Object.assign(mode, { requestsPerSecond: empty, latencyMs: { p50: empty, p90: empty, p99: empty, max: empty } })
    idle.modes[1].vsInline = { requestsPerSecond: Number.NaN, p99: Number.POSITIVE_INFINITY }
    result.apps.push(idle)
    expect(inline.mode).toBe('inline')
    expect(warm.mode).toBe('warm')
    const html = renderHtmlReport(result)
    expect(html).not.toContain('NaN')
    expect(html).not.toContain('Infinity')
    expect(svgsOf(html)).toHaveLength(6)
    expect(html).toContain('0 req/s · 0× inline')
    expect(html).toContain('n/a ms')
    expect(html).toMatch(/<th scope="row">CPU per request \(ms\)<\/th><td>[^<]+<\/td><td>[^<]+<\/td><td>n\/a<\/td>/)
  })

  it('lists failed runs under their app with stage and reason, counts them in the header, and shows the request', () => {
    const result = fixture()
    const [hello, cgi] = result.apps
    Object.assign(hello, { method: 'POST', headers: { 'content-type': 'application/json' }, bodyBytes: 57 })
    hello.failures = [
      { mode: 'cold', round: 1, stage: 'load', reason: 'none of the 3 answers to POST /hello under load was 2xx or 3xx (3 non2xx)' },
      { mode: 'cold', round: 3, stage: 'load', reason: 'none of the 3 answers to POST /hello under load was 2xx or 3xx (3 non2xx)' },
    ]
    cgi.modes = []
    cgi.failures = [1, 2, 3].map(round => ({ mode: 'cgi' as const, round, stage: 'first-request' as const, reason: 'GET /scripts/<x> answered 404: Not Found' }))
    result.runs = { total: 12, failed: 5 }
    const html = renderHtmlReport(result)
    expect(html.split('</header>')[0]).toContain('<strong>5 of 12 runs failed</strong>')
    const [helloSection, cgiSection] = sectionsOf(html)
    expect(helloSection).toContain('requested <code>POST /hello, 57-byte body, content-type&#58; application/json</code>')
    expect(helloSection).toContain('<li><strong>cold</strong>, rounds 1 and 3 (under load): <code>none of the 3 answers to POST /hello under load was 2xx or 3xx (3 non2xx)</code></li>')
    expect(svgsOf(helloSection)).toHaveLength(2)
    expect(cgiSection).toContain('<li><strong>cgi</strong>, rounds 1, 2 and 3 (first request): <code>GET /scripts/&lt;x&gt; answered 404&#58; Not Found</code></li>')
    expect(cgiSection).toContain('Every run of this app failed: no mode was measured.')
    expect(svgsOf(cgiSection)).toHaveLength(0)
    // A result of an older version has none of these fields: no failure section, the request as GET.
    const old = renderHtmlReport(fixture())
    expect(old).not.toMatch(/runs failed|Failed runs/)
    expect(old).toContain('requested <code>GET /hello</code>')
  })

  it('renders an app without modes, and a result without apps, as text rather than failing', () => {
    const result = fixture()
    result.apps[1].modes = []
    expect(renderHtmlReport(result)).toContain('No mode was measured for this app.')
    const html = renderHtmlReport({ ...result, apps: [] })
    expect(svgsOf(html)).toHaveLength(0)
    expect(html).toContain('</html>')
  })
})
