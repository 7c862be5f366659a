// Text for the HTML report of `warmgate bench`: escaping and number formatting. Every figure passes through
// here, so a NaN or Infinity (a mode with zero requests; `null` once a NaN went through JSON) prints as "n/a"
// and never reaches the markup.
import type { Spread } from './types.ts'

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', ':': '&#58;' }

/**
 * Escapes a string from the result for HTML/SVG text and attribute values. ':' is encoded too, so no
 * `http://` (or `javascript:`) from an app name or route appears literally in the page: the report makes
 * no fetch and holds no URL, whatever the result contains.
 * @example escapeText('<b>') // '&lt;b&gt;'
 */
export function escapeText (value: unknown): string {
  return String(value ?? '').replace(/[&<>"':]/g, char => ENTITIES[char])
}

/** True for a number the charts can draw (null and NaN from a zero-request mode are not). */
export function isFigure (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

/**
 * A figure with as many digits as it deserves: thousands separated, fewer decimals as it grows, none for
 * a whole number (32 connections, not 32.0).
 * @example formatNumber(19234.4) // '19,234'
 */
export function formatNumber (value: unknown): string {
  if (!isFigure(value)) return 'n/a'
  const abs = Math.abs(value)
  if (abs === 0) return '0'
  if (abs >= 100 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US')
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toPrecision(2)
}

/** "median (min–max)", or the median alone when the rounds agreed. */
export function formatSpread (spread: Spread | undefined): string {
  if (spread === undefined || spread === null) return 'n/a'
  const median = formatNumber(spread.median)
  const min = formatNumber(spread.min)
  const max = formatNumber(spread.max)
  return min === max && min === median ? median : `${median} (${min}–${max})`
}

/**
 * A ratio to inline: "0.93× inline"; far below 1 it reads better as a fraction, "1/1,282 of inline".
 * @example formatRatio(0.00078) // '1/1,282 of inline'
 */
export function formatRatio (ratio: unknown): string {
  if (!isFigure(ratio)) return 'n/a'
  if (ratio > 0 && ratio < 0.1) return `1/${formatNumber(1 / ratio)} of inline`
  return `${formatNumber(ratio)}× inline`
}

/** A tick label for an axis: 0.1, 1, 10, 1k, 10k, 1M. */
export function formatTick (value: number): string {
  if (value >= 1e6) return `${formatNumber(value / 1e6)}M`
  if (value >= 1e3) return `${formatNumber(value / 1e3)}k`
  return formatNumber(value)
}

/** Milliseconds as the largest unit that reads well: "850 ms", "10 s", "2 min 5 s". */
export function formatDuration (ms: unknown): string {
  if (!isFigure(ms)) return 'n/a'
  if (ms < 1000) return `${formatNumber(ms)} ms`
  const seconds = Math.round(ms / 1000)
  if (seconds < 120) return `${formatNumber(ms / 1000)} s`
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
}

/**
 * The run's start as "2025-05-01 14:03 UTC" (fixed zone: the page reads the same wherever it is opened);
 * HTML-safe either way, since an unreadable date comes back escaped as it was.
 */
export function formatDate (iso: unknown): string {
  const date = new Date(String(iso))
  if (Number.isNaN(date.getTime())) return escapeText(iso)
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}
