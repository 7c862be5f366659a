import { readdirSync, readFileSync } from 'node:fs'

/** Live (non-zombie) processes whose parent is `pid`, read from /proc. */
export function childrenOf (pid: number): Array<{ pid: number, cmdline: string }> {
  const out: Array<{ pid: number, cmdline: string }> = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) !== pid || fields[0] === 'Z') continue
      out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() })
    } catch {}
  }
  return out
}

/** Every live process below `pid`. */
export function descendantsOf (pid: number): Array<{ pid: number, cmdline: string }> {
  const out = childrenOf(pid)
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i].pid))
  return out
}
