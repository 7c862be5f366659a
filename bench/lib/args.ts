// What both benchmarks share around their main(): option parsing, failures, signals and the exit code.
import { stopAll } from './children.ts'

/** A bench error the user caused or can act on: printed as its message alone, exit 1. */
export class BenchFailure extends Error {}

/** An integer option within [min, max], or a BenchFailure naming the option. */
export function intOption (name: string, raw: string, min: number, max: number): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw new BenchFailure(`--${name}: expected an integer from ${min} to ${max}, got '${raw}'`)
  return n
}

/**
 * Runs a benchmark's `main` and exits with its code: a BenchFailure prints its message alone, anything
 * else its stack; SIGINT/SIGTERM stop every server and wrk first (exit 130). `cleanup` runs either way.
 */
export async function runBench (name: string, main: () => Promise<number>, cleanup: () => void = () => {}): Promise<never> {
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    process.stderr.write(`\n${name}: ${signal}, stopping the servers and wrk\n`)
    void stopAll(2000).finally(() => {
      cleanup()
      process.exit(130)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let code = 1
  try {
    code = await main()
  } catch (error) {
    process.stderr.write(`${name} failed: ${error instanceof BenchFailure ? error.message : (error as Error).stack ?? String(error)}\n`)
    code = 1
  } finally {
    await stopAll()
    cleanup()
  }
  process.exit(code)
}
