import { describe, expect, it } from 'vitest'
import { escapeText, formatDate, formatDuration, formatNumber, formatRatio, formatSpread } from '../../src/bench/format.ts'

describe('report formatting', () => {
  it('escapes markup, quotes and the colon of a URL', () => {
    expect(escapeText(`<a href="http://x">'&'</a>`)).toBe('&lt;a href=&quot;http&#58;//x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
    expect(escapeText(undefined)).toBe('')
  })

  it('prints figures with digits as they deserve, and n/a for what is not a finite number', () => {
    expect([19_234.4, 412.8, 32, 14.63, 1.714, 0.0523, 0, -2.5].map(formatNumber)).toEqual(['19,234', '413', '32', '14.6', '1.71', '0.052', '0', '-2.50'])
    expect([Number.NaN, Number.POSITIVE_INFINITY, null, undefined, '5'].map(formatNumber)).toEqual(['n/a', 'n/a', 'n/a', 'n/a', 'n/a'])
  })

  it('prints a spread as median (min–max), and the median alone when the rounds agree', () => {
    expect(formatSpread({ median: 5.24, min: 4.9, max: 6.02 })).toBe('5.24 (4.90–6.02)')
    expect(formatSpread({ median: 0, min: 0, max: 0 })).toBe('0')
    expect(formatSpread(undefined)).toBe('n/a')
  })

  it('prints a ratio to inline as a factor, or as a fraction far below 1', () => {
    expect(formatRatio(0.9254)).toBe('0.93× inline')
    expect(formatRatio(100)).toBe('100× inline')
    expect(formatRatio(0.000818)).toBe('1/1,222 of inline')
    expect(formatRatio(Number.NaN)).toBe('n/a')
  })

  it('prints durations and the start date in a fixed zone', () => {
    expect([850, 5000, 10_000, 152_340].map(formatDuration)).toEqual(['850 ms', '5 s', '10 s', '2 min 32 s'])
    expect(formatDate('2025-05-14T09:30:12.000Z')).toBe('2025-05-14 09:30 UTC')
    expect(formatDate('<not a date>')).toBe('&lt;not a date&gt;')
  })
})
