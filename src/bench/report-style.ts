// The look of the HTML report of `warmgate bench`: one colour per mode (the same in every chart and table)
// and the page's inline CSS. Colours from the Okabe–Ito palette, which stays distinct for the common kinds of
// colour blindness; meaning never rests on colour alone, since every bar carries its mode as text.

/** Fill colour per mode; a mode this version does not know gets grey. */
export const MODE_COLORS: Readonly<Record<string, string>> = Object.freeze({
  inline: '#0072b2',
  warm: '#e69f00',
  cold: '#009e73',
  cgi: '#cc79a7',
})

export function modeColor (mode: string): string {
  return Object.hasOwn(MODE_COLORS, mode) ? MODE_COLORS[mode] : '#888888'
}

/** Percentile bars of one mode: the same colour, lighter as the percentile rises (labelled as text too). */
export const PERCENTILE_OPACITY = { p50: 1, p90: 0.7, p99: 0.45 } as const

export const REPORT_CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 980px; padding: 24px; color: #1a1a1a; background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 0 0 2px; }
header p, .meta { margin: 2px 0; color: #444; }
code { font: 0.92em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.legend { margin: 12px 0 0; padding: 0; list-style: none; display: flex; gap: 16px; flex-wrap: wrap; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px;
  border: 1px solid #0003; }
section.app { margin-top: 28px; padding-top: 16px; border-top: 2px solid #ddd; break-inside: avoid-page; }
figure { margin: 14px 0; break-inside: avoid; }
figcaption { font-size: 0.88em; color: #444; margin-top: 2px; max-width: 760px; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg.chart .label { font-size: 13px; font-weight: 600; fill: #1a1a1a; }
svg.chart .sublabel, svg.chart .tick { font-size: 11px; fill: #444; }
svg.chart .value { font-size: 12px; fill: #1a1a1a; font-variant-numeric: tabular-nums; }
svg.chart .axis-title { font-size: 11px; fill: #444; font-style: italic; }
svg.chart .grid { stroke: #ddd; stroke-width: 1; }
svg.chart .axis { stroke: #888; stroke-width: 1; }
svg.chart .whisker { stroke: #1a1a1a; stroke-width: 1.4; fill: none; }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.9em; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; color: #333; }
thead th { border-bottom: 2px solid #bbb; }
td.bad { font-weight: 700; }
.failed, .failures { color: #a40000; }
.failures h3 { font-size: 1em; margin: 10px 0 2px; }
.failures ul { margin: 2px 0 8px; padding-left: 20px; }
.failures code { white-space: pre-wrap; color: #1a1a1a; }
footer { margin-top: 32px; font-size: 0.85em; color: #555; border-top: 1px solid #ddd; padding-top: 8px; }
@media print { body { padding: 0; font-size: 12px; } section.app { break-before: auto; } }
`
