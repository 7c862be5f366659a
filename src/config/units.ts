const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/i
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)$/i

/** Milliseconds for a duration (`30000`, `'30s'`, `'250ms'`), or `undefined` when it is not one. */
export function parseDuration (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = DURATION_RE.exec(value.trim())
  if (match === null) return undefined
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()])
}

/** Bytes for a size (`1048576`, `'1mb'`, `'512kb'`), or `undefined` when it is not one. */
export function parseSize (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = SIZE_RE.exec(value.trim())
  if (match === null) return undefined
  return Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()])
}
