import { describe, expect, it } from 'vitest'
import { parseDuration, parseSize } from '../../src/config/units.ts'

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['250ms', 250],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0ms', 0],
    [' 10s ', 10_000],
  ])('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it('takes a number as milliseconds', () => {
    expect(parseDuration(0)).toBe(0)
    expect(parseDuration(250)).toBe(250)
    expect(parseDuration(30_000)).toBe(30_000)
  })

  it('ignores the case of the unit', () => {
    expect(parseDuration('30S')).toBe(30_000)
    expect(parseDuration('250MS')).toBe(250)
    expect(parseDuration('250Ms')).toBe(250)
    expect(parseDuration('2M')).toBe(120_000)
    expect(parseDuration('1H')).toBe(3_600_000)
  })

  it.each([
    ['abc', 'abc'],
    ['a negative number', -1],
    ['an unknown unit', '10 parsecs'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['the empty string', ''],
    ['a bare number string', '30'],
    ['a negative string', '-5s'],
    ['null', null],
    ['undefined', undefined],
    ['an object', { ms: 5 }],
  ])('rejects %s', (_label, input) => {
    expect(parseDuration(input)).toBeUndefined()
  })
})

describe('parseSize', () => {
  it.each([
    ['1mb', 1024 ** 2],
    ['512kb', 512 * 1024],
    ['1gb', 1024 ** 3],
    ['10b', 10],
    ['0b', 0],
    ['1.5kb', 1536],
    [' 2 kb ', 2048],
  ])('reads %j as %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes)
  })

  it('takes a number as bytes', () => {
    expect(parseSize(0)).toBe(0)
    expect(parseSize(1_048_576)).toBe(1_048_576)
  })

  it('ignores the case of the unit', () => {
    expect(parseSize('1MB')).toBe(1024 ** 2)
    expect(parseSize('512Kb')).toBe(512 * 1024)
    expect(parseSize('1GB')).toBe(1024 ** 3)
    expect(parseSize('10B')).toBe(10)
  })

  it.each([
    ['abc', 'abc'],
    ['a negative number', -1],
    ['an unknown unit', '10 parsecs'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['the empty string', ''],
    ['a fractional number of bytes', 1.5],
    ['a bare number string', '1024'],
    ['a bit unit', '1mbit'],
    ['null', null],
    ['undefined', undefined],
  ])('rejects %s', (_label, input) => {
    expect(parseSize(input)).toBeUndefined()
  })
})
