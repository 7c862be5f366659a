// /proc readings of the gateway under test and every process below it (Linux). Cold mode's work happens
// in child processes (under the gateway or its spawn helper); warm mode's threads are in the gateway's own
// lines. Elsewhere these read nothing, and the figures that depend on them are NaN.
import { readdirSync, readFileSync } from 'node:fs'

/** USER_HZ: Linux reports utime/stime in 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS = 100
const PAGE_BYTES = 4096

interface ProcLine { pid: number, ppid: number, cpuSeconds: number }

function readStat (pid: number): ProcLine | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17: own time plus reaped children's.
    return { pid, ppid: Number(f[1]), cpuSeconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS }
  } catch {
    return undefined
  }
}

/** `root` and every live process below it (empty when `root` is gone). */
export function processTree (root: number): ProcLine[] {
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return []
  }
  const byParent = new Map<number, ProcLine[]>()
  let rootLine: ProcLine | undefined
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue
    const line = readStat(Number(name))
    if (line === undefined) continue
    if (line.pid === root) rootLine = line
    const siblings = byParent.get(line.ppid)
    if (siblings === undefined) byParent.set(line.ppid, [line])
    else siblings.push(line)
  }
  if (rootLine === undefined) return []
  const tree = [rootLine]
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i].pid) ?? []))
  return tree
}

/** Resident memory of one process in bytes (statm's second field), 0 when it is gone. */
function rssBytes (pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_BYTES
  } catch {
    return 0
  }
}

/** CPU seconds and resident bytes of a whole tree right now. A child reaped between two readings moves from its own line to its parent's cutime: counted once. */
export function readTree (root: number): { cpuSeconds: number, rssBytes: number } {
  const tree = processTree(root)
  if (tree.length === 0) return { cpuSeconds: Number.NaN, rssBytes: Number.NaN }
  let cpuSeconds = 0
  let rss = 0
  for (const p of tree) {
    cpuSeconds += p.cpuSeconds
    rss += rssBytes(p.pid)
  }
  return { cpuSeconds, rssBytes: rss }
}

/** Samples the tree's resident memory every `intervalMs`; stop() returns the peak (bytes). */
export function sampleTreeRss (root: number, intervalMs = 100): { stop: () => number } {
  let peak = 0
  const take = (): void => {
    const { rssBytes: rss } = readTree(root)
    if (rss > peak) peak = rss
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      take()
      return peak
    },
  }
}

/** utime + stime of one process (all its threads), seconds; undefined when it is gone. */
export function readProcessCpu (pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

/** Seconds of CPU time the whole machine spent busy (every CPU: user, nice, system, irq, softirq, steal). */
export function readMachineBusy (): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
    return (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS
  } catch {
    return Number.NaN
  }
}
