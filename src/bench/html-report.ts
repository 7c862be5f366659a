// The HTML report of `warmgate bench --report FILE.html`: one self-contained page, inline CSS and
// inline SVG, no script and no URL, so it renders offline, attached to a mail or printed. Per app: requests/s
// per mode, latency percentiles per mode, and a table of every figure of ModeResult.
import { escapeText, formatDate, formatDuration, formatNumber, formatRatio, formatSpread, isFigure } from './format.ts'
import { modeColor, PERCENTILE_OPACITY, REPORT_CSS } from './report-style.ts'
import { createScale, renderBarChart, type BarRow, type Scale } from './svg.ts'
import { formatRequest, groupFailures, roundsText, stageText } from './text-report.ts'
import type { AppResult, BenchResult, ModeResult, RunFailure, Spread } from './types.ts'

/**
 * Renders a bench result as a self-contained HTML page (a string to write to a file). Every string from the
 * result is escaped; figures that are not finite numbers print as "n/a" and draw no bar.
 * @example
 * import { writeFileSync } from 'node:fs'
 * writeFileSync('bench.html', renderHtmlReport(await bench({ apps: ['hello'] })))
 */
export function renderHtmlReport (result: BenchResult): string {
  const date = formatDate(result.startedAt)
  const apps = Array.isArray(result.apps) ? result.apps : []
  return '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>warmgate bench, ${date}</title>\n<style>${REPORT_CSS}</style>\n</head>\n<body>\n` +
    renderHeader(result, date, apps) +
    apps.map((app, index) => renderApp(app, index, result)).join('\n') +
    renderFooter(result) +
    '</body>\n</html>\n'
}

function renderHeader (result: BenchResult, date: string, apps: AppResult[]): string {
  const { machine, options } = result
  const load = Array.isArray(machine?.loadavg) ? machine.loadavg.map(formatNumber).join(' ') : 'n/a'
  const machineLine = [
    `Node ${escapeText(machine?.node)}`,
    escapeText(machine?.platform),
    `${formatNumber(machine?.cpus)} CPUs (${escapeText(machine?.cpuModel)})`,
    `${formatNumber(machine?.memoryGb)} GB RAM`,
    `load average ${load} at the start`,
  ].join(' · ')
  const modes = [...new Set(apps.flatMap(app => (app.modes ?? []).map(mode => String(mode.mode))))]
  const legend = modes.map(mode => `<li>${swatch(mode)}${escapeText(mode)}</li>`).join('')
  return '<header>\n' +
    `<h1>warmgate bench <small>${date}</small></h1>\n` +
    `<p>Machine: ${machineLine}.</p>\n` +
    `<p>Load: ${formatNumber(options?.connections)} connections for ${formatDuration(options?.durationMs)} per run, ` +
    `${formatNumber(options?.rounds)} interleaved rounds (the modes take turns, round after round); ` +
    `cold mode (a process per request) gets a load of its own: ${formatNumber(options?.cold?.connections)} connections for ` +
    `${formatDuration(options?.cold?.durationMs)}. Load generator: ${escapeText(options?.loadGenerator)}, ` +
    `in a process of its own. The whole run took ${formatDuration(result.tookMs)}.</p>\n` +
    renderFailedCount(result) +
    `<ul class="legend" aria-label="Modes">${legend}</ul>\n</header>\n`
}

function renderFailedCount (result: BenchResult): string {
  const failed = result.runs?.failed
  if (!isFigure(failed) || failed === 0) return ''
  return `<p class="failed"><strong>${formatNumber(failed)} of ${formatNumber(result.runs?.total)} runs failed</strong> and measured nothing; ` +
    'each is listed under its app with the reason. The figures shown are those of the other runs.</p>\n'
}

/** The failures of an app as the JSON has them (an older result has none; anything malformed is skipped). */
function failuresOf (app: AppResult): RunFailure[] {
  const failures: unknown = app.failures
  if (!Array.isArray(failures)) return []
  return failures.filter((f): f is RunFailure => typeof f === 'object' && f !== null && typeof f.reason === 'string')
}

function renderFailures (failures: RunFailure[]): string {
  if (failures.length === 0) return ''
  const items = groupFailures(failures).map(group =>
    `<li><strong>${escapeText(group.mode)}</strong>, ${escapeText(roundsText(group.rounds))} (${escapeText(stageText(group.stage))}): <code>${escapeText(group.reason)}</code></li>`)
  return `<div class="failures">\n<h3>Failed runs</h3>\n<ul>\n${items.join('\n')}\n</ul>\n</div>\n`
}

/** What was requested, as far as the result says: `POST /api/users, 57-byte body, content-type: application/json`. */
function requestText (app: AppResult): string {
  const headers: unknown = app.headers
  return formatRequest({
    path: app.path,
    method: typeof app.method === 'string' ? app.method : 'GET',
    headers: typeof headers === 'object' && headers !== null && !Array.isArray(headers) ? headers as Record<string, string> : {},
    bodyBytes: isFigure(app.bodyBytes) ? app.bodyBytes : undefined,
  })
}

function renderApp (app: AppResult, index: number, result: BenchResult): string {
  const modes = Array.isArray(app.modes) ? app.modes : []
  const rounds = formatNumber(result.options?.rounds)
  const hasRatios = modes.some(mode => mode.vsInline !== undefined && mode.vsInline !== null)
  const failures = failuresOf(app)
  const heading = `<h2 id="app-${index}">${escapeText(app.app)}</h2>\n` +
    `<p class="meta">Kind <code>${escapeText(app.kind)}</code> · route <code>${escapeText(app.route)}</code> · ` +
    `requested <code>${escapeText(requestText(app))}</code></p>\n` +
    renderFailures(failures)
  if (modes.length === 0) {
    const why = failures.length > 0 ? 'Every run of this app failed: no mode was measured.' : 'No mode was measured for this app.'
    return `<section class="app">\n${heading}<p>${why}</p>\n</section>\n`
  }
  return `<section class="app" aria-labelledby="app-${index}">\n${heading}` +
    renderThroughput(app, modes, rounds) +
    renderLatency(app, modes, rounds, hasRatios) +
    renderTable(modes, hasRatios) +
    '</section>\n'
}

function renderThroughput (app: AppResult, modes: ModeResult[], rounds: string): string {
  const rows: BarRow[] = modes.map(mode => ({
    label: String(mode.mode),
    color: modeColor(String(mode.mode)),
    value: mode.requestsPerSecond,
    text: `${formatNumber(mode.requestsPerSecond?.median)} req/s${ratioText(mode, 'requestsPerSecond')}`,
  }))
  const scale = createScale(modes.flatMap(mode => spreadValues(mode.requestsPerSecond)))
  const chart = renderBarChart({ title: `${String(app.app)}: requests per second by mode`, axis: `requests/s, ${axisName(scale)}`, rows, scale })
  return `<figure>\n${chart}\n<figcaption>Requests per second (higher is better). ${scaleNote(scale)} ` +
    `Bar: median over ${rounds} rounds; whisker: min–max over the rounds.</figcaption>\n</figure>\n`
}

function renderLatency (app: AppResult, modes: ModeResult[], rounds: string, hasRatios: boolean): string {
  const rows: BarRow[] = []
  for (const mode of modes) {
    for (const percentile of ['p50', 'p90', 'p99'] as const) {
      const spread = mode.latencyMs?.[percentile]
      const ratio = percentile === 'p99' ? ratioText(mode, 'p99') : ''
      rows.push({
        label: percentile === 'p50' ? String(mode.mode) : undefined,
        sublabel: percentile,
        color: modeColor(String(mode.mode)),
        opacity: PERCENTILE_OPACITY[percentile],
        value: spread,
        text: `${formatNumber(spread?.median)} ms${ratio}`,
        groupStart: percentile === 'p50',
      })
    }
  }
  const scale = createScale(rows.flatMap(row => spreadValues(row.value)))
  const chart = renderBarChart({ title: `${String(app.app)}: latency p50, p90 and p99 by mode (ms)`, axis: `ms, ${axisName(scale)}`, rows, scale })
  const ratioNote = hasRatios ? ' The p99 row gives its ratio to inline\'s p99.' : ''
  return `<figure>\n${chart}\n<figcaption>Latency in milliseconds (lower is better): p50, p90 and p99 per mode, ` +
    `one shade per percentile, lighter as it rises. ${scaleNote(scale)} Bar: median over ${rounds} rounds; ` +
    `whisker: min–max.${ratioNote}</figcaption>\n</figure>\n`
}

type TableRow = [name: string, cell: (mode: ModeResult) => string]

function renderTable (modes: ModeResult[], hasRatios: boolean): string {
  const rows: TableRow[] = [
    ['Load', mode => `${formatNumber(mode.connections)} connections × ${formatDuration(mode.durationMs)}`],
    ['Requests/s', mode => formatSpread(mode.requestsPerSecond)],
    ...(hasRatios ? [['Requests/s vs inline', mode => ratioCell(mode, 'requestsPerSecond')] satisfies TableRow] : []),
    ['Latency p50 (ms)', mode => formatSpread(mode.latencyMs?.p50)],
    ['Latency p90 (ms)', mode => formatSpread(mode.latencyMs?.p90)],
    ['Latency p99 (ms)', mode => formatSpread(mode.latencyMs?.p99)],
    ...(hasRatios ? [['Latency p99 vs inline', mode => ratioCell(mode, 'p99')] satisfies TableRow] : []),
    ['Latency max (ms)', mode => formatSpread(mode.latencyMs?.max)],
    ['Errors, all rounds', errorsCell],
    ['Peak RSS (MB)', mode => formatSpread(mode.peakRssMb)],
    ['Per worker (MB)', mode => mode.perWorkerMb === undefined || mode.perWorkerMb === null ? '—' : formatSpread(mode.perWorkerMb)],
    ['CPU per request (ms)', mode => formatSpread(mode.cpuMsPerRequest)],
    ['First request (ms)', mode => formatSpread(mode.firstRequestMs)],
  ]
  const head = modes.map(mode => `<th scope="col">${swatch(String(mode.mode))}${escapeText(mode.mode)}</th>`).join('')
  const body = rows.map(([name, cell]) => {
    const cells = modes.map(mode => {
      const text = cell(mode)
      return name.startsWith('Errors') && text !== '0' ? `<td class="bad">${text}</td>` : `<td>${text}</td>`
    })
    return `<tr><th scope="row">${name}</th>${cells.join('')}</tr>`
  }).join('\n')
  return `<table>\n<thead><tr><th scope="col">Figure</th>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>\n`
}

function renderFooter (result: BenchResult): string {
  return `<footer>Figures are medians over ${formatNumber(result.options?.rounds)} interleaved rounds, with the ` +
    'min–max over rounds in parentheses and as whiskers. CPU per request counts every thread and child process of ' +
    'the gateway; peak RSS is the gateway\'s whole process tree; per worker is the RSS growth per warm worker thread ' +
    'over the idle gateway; first request is the latency of the first request after the gateway was ready (the ' +
    'cold-start cost). Written by <code>warmgate bench</code>; this page loads nothing from the network.</footer>\n'
}

function ratioText (mode: ModeResult, key: 'requestsPerSecond' | 'p99'): string {
  if (mode.mode === 'inline') return mode.vsInline === undefined || mode.vsInline === null ? '' : ' · baseline'
  const ratio = mode.vsInline?.[key]
  return isFigure(ratio) ? ` · ${formatRatio(ratio)}` : ''
}

function ratioCell (mode: ModeResult, key: 'requestsPerSecond' | 'p99'): string {
  if (mode.mode === 'inline') return 'baseline'
  const ratio = mode.vsInline?.[key]
  return isFigure(ratio) ? formatRatio(ratio) : '—'
}

function errorsCell (mode: ModeResult): string {
  const errors = mode.errors ?? { non2xx: Number.NaN, timeouts: Number.NaN, resets: Number.NaN, other: Number.NaN }
  const counts = [errors.non2xx, errors.timeouts, errors.resets, errors.other]
  if (counts.every(count => count === 0)) return '0'
  return `non-2xx ${formatNumber(errors.non2xx)}, timeouts ${formatNumber(errors.timeouts)}, ` +
    `resets ${formatNumber(errors.resets)}, other ${formatNumber(errors.other)}`
}

function spreadValues (spread: Spread | undefined): unknown[] {
  return spread === undefined || spread === null ? [] : [spread.median, spread.min, spread.max]
}

function axisName (scale: Scale): string {
  return scale.kind === 'log' ? 'log scale' : 'linear scale'
}

function scaleNote (scale: Scale): string {
  return scale.kind === 'log'
    ? 'Log axis, each gridline 10× the one before, because the modes differ by orders of magnitude: compare the figures printed beside the bars, not the bar lengths.'
    : 'Linear axis from 0.'
}

function swatch (mode: string): string {
  return `<span class="swatch" style="background:${modeColor(mode)}" aria-hidden="true"></span>`
}
