// Inline SVG for the HTML report of `warmgate bench`: an axis scale and a horizontal bar chart with min–max
// whiskers. Horizontal bars because labels (mode, percentile) and values then read as text beside each bar,
// in print and in grey as well as in colour. No xmlns attribute: the HTML parser puts an inline <svg> in the
// SVG namespace itself (HTML Living Standard §13.2.6.5), and the page stays free of any URL.
import { escapeText, formatTick, isFigure } from './format.ts'
import type { Spread } from './types.ts'

export interface Scale {
  kind: 'log' | 'linear'
  /** Gridline values, the first and last being the ends of the axis. */
  ticks: number[]
  /** Where a value falls along the axis, 0 to 1 (clamped; 0 for what a log axis cannot show). */
  position: (value: number) => number
}

/** Spans wider than this (max over smallest positive value) get a log axis: cold is ~1000× below warm. */
export const LOG_SPAN = 50

/**
 * A log axis over whole decades when the values span more than LOG_SPAN, else a linear one from 0 with
 * 1-2-5 steps. Values that are not finite numbers are ignored.
 * @example createScale([15, 19000]).kind // 'log'
 */
export function createScale (values: readonly unknown[]): Scale {
  const positive = values.filter((value): value is number => isFigure(value) && value > 0)
  if (positive.length === 0) return linearScale(1)
  const max = Math.max(...positive)
  const min = Math.min(...positive)
  return max / min > LOG_SPAN ? logScale(min, max) : linearScale(max)
}

function logScale (min: number, max: number): Scale {
  const lo = Math.floor(Math.log10(min))
  const hi = Math.max(Math.ceil(Math.log10(max)), lo + 1)
  const ticks: number[] = []
  for (let decade = lo; decade <= hi; decade++) ticks.push(Number((10 ** decade).toPrecision(12)))
  const position = (value: number): number => value > 0 ? clamp((Math.log10(value) - lo) / (hi - lo)) : 0
  return { kind: 'log', ticks, position }
}

function linearScale (max: number): Scale {
  const rough = max / 5
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 5, 10].map(f => f * magnitude).find(candidate => candidate >= rough) ?? 10 * magnitude
  const top = Math.ceil(max / step) * step
  const ticks: number[] = []
  for (let i = 0; i * step <= top * (1 + 1e-9); i++) ticks.push(Number((i * step).toPrecision(12)))
  return { kind: 'linear', ticks, position: value => clamp(value / top) }
}

function clamp (fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0
}

export interface BarRow {
  /** Left label in bold (the mode), shown on the first row of a group. */
  label?: string
  /** Smaller label right before the bar (a percentile). */
  sublabel?: string
  color: string
  opacity?: number
  value: Spread
  /** The figure as text, right of the plot. */
  text: string
  /** Starts a new group: a little space above. */
  groupStart?: boolean
}

export interface BarChart {
  /** For screen readers and the tooltip of the whole chart. */
  title: string
  /** Axis title, e.g. "requests/s, log scale". */
  axis: string
  rows: BarRow[]
  scale: Scale
}

const WIDTH = 760
const LABEL_W = 150
const TEXT_W = 220
const PLOT_X = LABEL_W
const PLOT_W = WIDTH - LABEL_W - TEXT_W - 12
const ROW_H = 24
const BAR_H = 16
const GROUP_GAP = 10
const TOP = 6
const AXIS_H = 34

/** One chart as an inline <svg> string; every text in it is escaped here. */
export function renderBarChart (chart: BarChart): string {
  const parts: string[] = []
  let y = TOP
  for (const row of chart.rows) {
    if (row.groupStart === true && y > TOP) y += GROUP_GAP
    parts.push(renderRow(row, y, chart.scale))
    y += ROW_H
  }
  const plotBottom = y + 2
  const height = plotBottom + AXIS_H
  const grid = chart.scale.ticks.map(tick => {
    const x = fixed(PLOT_X + chart.scale.position(tick) * PLOT_W)
    return `<line class="grid" x1="${x}" y1="${TOP - 2}" x2="${x}" y2="${plotBottom}"/>` +
      `<text class="tick" x="${x}" y="${plotBottom + 13}" text-anchor="middle">${escapeText(formatTick(tick))}</text>`
  })
  return `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeText(chart.title)}">` +
    `<title>${escapeText(chart.title)}</title>` +
    grid.join('') +
    `<line class="axis" x1="${PLOT_X}" y1="${TOP - 2}" x2="${PLOT_X}" y2="${plotBottom}"/>` +
    parts.join('') +
    `<text class="axis-title" x="${PLOT_X + PLOT_W}" y="${plotBottom + 28}" text-anchor="end">${escapeText(chart.axis)}</text>` +
    '</svg>'
}

function renderRow (row: BarRow, y: number, scale: Scale): string {
  const middle = y + ROW_H / 2
  const out: string[] = []
  if (row.label !== undefined) out.push(`<text class="label" x="4" y="${fixed(middle + 4)}">${escapeText(row.label)}</text>`)
  if (row.sublabel !== undefined) out.push(`<text class="sublabel" x="${PLOT_X - 6}" y="${fixed(middle + 4)}" text-anchor="end">${escapeText(row.sublabel)}</text>`)
  const { median, min, max } = row.value ?? {}
  if (isFigure(median)) {
    const width = fixed(scale.position(median) * PLOT_W)
    const opacity = row.opacity === undefined ? '' : ` fill-opacity="${row.opacity}"`
    out.push(`<rect x="${PLOT_X}" y="${fixed(middle - BAR_H / 2)}" width="${width}" height="${BAR_H}" fill="${row.color}"${opacity}>` +
      `<title>${escapeText(row.text)}</title></rect>`)
  }
  if (isFigure(min) && isFigure(max) && max > min) {
    const x1 = fixed(PLOT_X + scale.position(min) * PLOT_W)
    const x2 = fixed(PLOT_X + scale.position(max) * PLOT_W)
    const capTop = fixed(middle - 5)
    const capBottom = fixed(middle + 5)
    out.push(`<path class="whisker" d="M${x1} ${capTop}V${capBottom}M${x1} ${middle}H${x2}M${x2} ${capTop}V${capBottom}"/>`)
  }
  out.push(`<text class="value" x="${PLOT_X + PLOT_W + 10}" y="${fixed(middle + 4)}">${escapeText(row.text)}</text>`)
  return out.join('')
}

/** Coordinates with one decimal: short markup, and never "NaN" (callers pass finite numbers only). */
function fixed (value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0'
}
