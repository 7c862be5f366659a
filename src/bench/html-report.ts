// PLACEHOLDER, to be replaced by the bench-html branch (a colleague owns the real renderer, with bar charts).
// It exists only so that `warmgate bench --report FILE.html` typechecks and writes something honest until
// that branch is merged: a self-contained page with the result as a plain table. On merge, take theirs.
import type { BenchResult } from './types.ts'

const escape = (text: string): string => text.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)

export function renderHtmlReport (result: BenchResult): string {
  const rows = result.apps.flatMap(app => app.modes.map(m =>
    `<tr><td>${escape(app.app)}</td><td>${m.mode}</td><td>${Math.round(m.requestsPerSecond.median)}</td><td>${m.latencyMs.p99.median.toFixed(2)}</td></tr>`))
  return `<!doctype html><html><head><meta charset="utf-8"><title>warmgate bench</title></head><body>
<p>Placeholder report (the charted report is not merged yet). Node ${escape(result.machine.node)}, ${result.machine.cpus} CPUs.</p>
<table><tr><th>app</th><th>mode</th><th>req/s</th><th>p99 ms</th></tr>${rows.join('')}</table></body></html>
`
}
