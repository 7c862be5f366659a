// Option parsing shared by the benchmarks.

/** A bench error the user caused or can act on: printed as its message alone, exit 1. */
export class BenchFailure extends Error {}

/** An integer option within [min, max], or a BenchFailure naming the option. */
export function intOption (name: string, raw: string, min: number, max: number): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw new BenchFailure(`--${name}: expected an integer from ${min} to ${max}, got '${raw}'`)
  return n
}
