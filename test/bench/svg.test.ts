import { describe, expect, it } from 'vitest'
import { createScale, renderBarChart } from '../../src/bench/svg.ts'

describe('createScale', () => {
  it('takes a log axis over whole decades when the values span more than 50×', () => {
    const scale = createScale([14.6, 13.9, 17_843.6, 18_120.9])
    expect(scale.kind).toBe('log')
    expect(scale.ticks).toEqual([10, 100, 1000, 10_000, 100_000])
    expect(scale.position(10)).toBe(0)
    expect(scale.position(1000)).toBeCloseTo(0.5)
    expect(scale.position(0)).toBe(0)
    expect(scale.position(1e9)).toBe(1)
  })

  it('takes a linear axis from 0 in 1-2-5 steps otherwise, and ignores what is not a finite number', () => {
    const scale = createScale([398.1, 412.8, 420.6, null, Number.NaN, Number.POSITIVE_INFINITY, -3])
    expect(scale.kind).toBe('linear')
    expect(scale.ticks).toEqual([0, 100, 200, 300, 400, 500])
    expect(scale.position(250)).toBeCloseTo(0.5)
    expect(createScale([0.3, 0.41]).ticks).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5])
  })

  it('falls back to a 0–1 axis when no value is positive', () => {
    for (const values of [[], [0, 0], [Number.NaN]]) {
      const scale = createScale(values)
      expect(scale.kind).toBe('linear')
      expect(scale.ticks.at(-1)).toBe(1)
      expect(scale.position(0)).toBe(0)
    }
  })
})

describe('renderBarChart', () => {
  it('draws no bar and no whisker for a figure that is not a number, and still prints its text', () => {
    const svg = renderBarChart({
      title: 't',
      axis: 'a',
      scale: createScale([1, 2]),
      rows: [{ label: 'warm', color: '#e69f00', value: { median: Number.NaN, min: Number.NaN, max: 1 }, text: 'n/a ms' }],
    })
    expect(svg).not.toContain('<rect')
    expect(svg).not.toContain('whisker')
    expect(svg).toContain('>n/a ms<')
    expect(svg).not.toContain('NaN')
  })
})
