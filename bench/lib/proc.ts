import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let clockTicks: number | undefined

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
export function clkTck (): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** VmRSS and VmHWM of a process in bytes (the whole process: every thread shares it). */
export function readMemory (pid: number): { rss: number, hwm: number } | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const kb = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)
    return match === null ? 0 : Number(match[1]) * 1024
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** utime + stime of a process, every thread included, in seconds. */
export function readCpuSeconds (pid: number): number | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name may contain spaces and parentheses: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clkTck()
}

/** utime + stime per thread (seconds), keyed by tid, with the thread's name (MainThread, WorkerThread, V8Worker...). */
export function readThreadCpu (pid: number): Map<string, { name: string, seconds: number }> {
  const out = new Map<string, { name: string, seconds: number }>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
      out.set(tid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / clkTck() })
    } catch {}
  }
  return out
}

/** CPU used between two readThreadCpu() snapshots, summed by thread name. Threads that ended in between are lost. */
export function threadCpuDelta (before: ReturnType<typeof readThreadCpu>, after: ReturnType<typeof readThreadCpu>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [tid, { name, seconds }] of after) out[name] = (out[name] ?? 0) + seconds - (before.get(tid)?.seconds ?? 0)
  return out
}

/** CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal), in seconds of all CPUs. */
export function readSystemBusySeconds (): number | undefined {
  let text: string
  try {
    text = readFileSync('/proc/stat', 'utf8')
  } catch {
    return undefined
  }
  const [user, nice, system, , , irq, softirq, steal] = text.slice(0, text.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number)
  return (user + nice + system + irq + softirq + (steal ?? 0)) / clkTck()
}

/**
 * Waits (at most `maxMs`) until the machine has been quiet for one 500 ms window: less than `threshold`
 * cores busy. Returns how long it waited and the busy cores of the last window. It only delays a run;
 * it never drops one.
 */
export async function waitForQuiet (maxMs: number, threshold = 0.15): Promise<{ waitedMs: number, busyCores: number, quiet: boolean }> {
  const started = performance.now()
  let busyCores = Number.NaN
  do {
    const before = readSystemBusySeconds()
    const t0 = performance.now()
    await new Promise(resolve => setTimeout(resolve, 500))
    const after = readSystemBusySeconds()
    if (before === undefined || after === undefined) return { waitedMs: 0, busyCores: Number.NaN, quiet: true }
    busyCores = (after - before) / ((performance.now() - t0) / 1000)
    if (busyCores < threshold) return { waitedMs: performance.now() - started, busyCores, quiet: true }
  } while (performance.now() - started < maxMs)
  return { waitedMs: performance.now() - started, busyCores, quiet: false }
}

export interface Sample {
  /** Highest VmRSS seen, bytes. */
  peakRss: number
  samples: number
}

/** Samples VmRSS of `pid` every `intervalMs` until stopped. */
export function sampleRss (pid: number, intervalMs = 100): { stop: () => Sample } {
  const result: Sample = { peakRss: 0, samples: 0 }
  const take = (): void => {
    const mem = readMemory(pid)
    if (mem === undefined) return
    result.samples++
    if (mem.rss > result.peakRss) result.peakRss = mem.rss
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      take()
      return result
    },
  }
}
