// /proc readings about a server and the processes under it (bench/cgi.ts): CPU of the whole tree, how many
// descendants are alive, and which processes outlived the server. A CGI server's work is mostly in its
// children, and they may hang under a helper process (the gateway's spawn helper), not under the server.
import { readdirSync, readFileSync } from 'node:fs'
import { clkTck, readMemory } from './proc.ts'

interface ProcInfo {
  pid: number
  ppid: number
  state: string
  /** Field 22, clock ticks after boot: with the pid, it names one process (pids are reused). */
  startTime: string
  /** utime + stime + cutime + cstime, seconds: the process and every child it has waited for. */
  cpuSeconds: number
}

export interface Leftover { pid: number, state: string, cmdline: string }

function readInfo (pid: number): ProcInfo | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may contain spaces and parentheses: the fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { pid, ppid: Number(f[1]), state: f[0], startTime: f[19], cpuSeconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clkTck() }
  } catch {
    return undefined
  }
}

function allProcesses (): ProcInfo[] {
  const out: ProcInfo[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const info = readInfo(Number(name))
    if (info !== undefined) out.push(info)
  }
  return out
}

/** `root` (when alive) and every process below it. */
export function processTree (root: number): ProcInfo[] {
  const all = allProcesses()
  const byParent = new Map<number, ProcInfo[]>()
  for (const p of all) {
    const siblings = byParent.get(p.ppid)
    if (siblings === undefined) byParent.set(p.ppid, [p])
    else siblings.push(p)
  }
  const rootInfo = all.find(p => p.pid === root)
  if (rootInfo === undefined) return []
  const tree = [rootInfo]
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i].pid) ?? []))
  return tree
}

/**
 * CPU seconds of a server's whole tree: each live process's own time plus what it has reaped. Taken before
 * and after a run, the difference is the tree's CPU over the run (a process reaped in between moves from
 * its own line to its parent's cutime: counted once). Undefined when `root` is gone.
 */
export function readTreeCpu (root: number): number | undefined {
  const tree = processTree(root)
  return tree.length === 0 ? undefined : tree.reduce((sum, p) => sum + p.cpuSeconds, 0)
}

/**
 * Every `intervalMs`, the sum of VmRSS over `root` and every process below it; stop() returns the largest
 * sum seen (bytes). A sum of RSS counts pages shared between processes (the node binary's) once per
 * process: for a tree of N node processes it overstates what they take together, as `ps` would.
 */
export { sampleTreeRss } from '../../src/bench/proc.ts'

/** Every `intervalMs`, counts the live (non-zombie) descendants of `root`; stop() returns the most seen at once. */
export function sampleDescendants (root: number, intervalMs = 250): { stop: () => number } {
  let most = 0
  const take = (): void => {
    const n = processTree(root).filter(p => p.pid !== root && p.state !== 'Z').length
    if (n > most) most = n
  }
  const timer = setInterval(take, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      return most
    },
  }
}

/** Identities (pid + start time) of the processes below `root` right now: what to look for after it stops. */
export function snapshotDescendants (root: number): Array<{ pid: number, startTime: string }> {
  return processTree(root).filter(p => p.pid !== root).map(p => ({ pid: p.pid, startTime: p.startTime }))
}

function cmdlineOf (pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
  } catch {
    return undefined
  }
}

function isTagged (pid: number, tag: string, dir: string, cmdline: string): boolean {
  if (cmdline.includes(dir)) return true
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`WARMGATE_BENCH_TAG=${tag}`)
  } catch {
    return false
  }
}

/**
 * Processes left once a server has stopped: those seen below it before the stop (same pid and start time)
 * and any that carry `WARMGATE_BENCH_TAG=<tag>` in their environment or mention `dir` (the bench's temp dir)
 * on their command line, wherever they were re-parented. Polled until none is left or `graceMs` passes (a
 * CGI group gets TERM, then KILL after 2 s); what is still there then is returned and SIGKILLed, each by
 * its pid, so that the next run starts clean. Zombies are not counted.
 */
export async function findLeftovers (options: { before: Array<{ pid: number, startTime: string }>, tag: string, dir: string, graceMs: number }): Promise<Leftover[]> {
  const known = new Map(options.before.map(p => [p.pid, p.startTime]))
  const deadline = performance.now() + options.graceMs
  let found: Leftover[]
  for (;;) {
    found = []
    for (const p of allProcesses()) {
      if (p.pid === process.pid || p.state === 'Z') continue
      const cmdline = cmdlineOf(p.pid)
      if (cmdline === undefined) continue
      if (known.get(p.pid) === p.startTime || isTagged(p.pid, options.tag, options.dir, cmdline)) found.push({ pid: p.pid, state: p.state, cmdline })
    }
    if (found.length === 0 || performance.now() > deadline) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  for (const leftover of found) {
    try {
      process.kill(leftover.pid, 'SIGKILL')
    } catch {}
  }
  return found
}
