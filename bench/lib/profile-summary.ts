// Summarises V8 .cpuprofile files (from `npm run bench:quick -- --cpu-prof`): the top functions by self time,
// per profile (one per thread: the main thread and each worker write their own).
//   node bench/lib/profile-summary.ts DIR_OR_FILE... [--top 25]
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

function files (paths: string[]): string[] {
  const out: string[] = []
  for (const path of paths) {
    if (statSync(path).isDirectory()) out.push(...files(readdirSync(path).sort().map(name => join(path, name))))
    else if (path.endsWith('.cpuprofile')) out.push(path)
  }
  return out
}

function label (frame: ProfileNode['callFrame']): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return name
  const url = frame.url.replace(/^file:\/\//, '')
  const short = url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : relative(process.cwd(), url)
  return `${name} ${short}:${frame.lineNumber + 1}`
}

export function summarise (path: string, top: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const self = new Map<string, number>()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    if (node === undefined) continue
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    const key = label(node.callFrame)
    self.set(key, (self.get(key) ?? 0) + dt)
  }
  const idle = self.get('(idle)') ?? 0
  const lines = [`${path}: ${(total / 1000).toFixed(0)} ms sampled, ${(100 * (1 - idle / total)).toFixed(0)}% busy`]
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, us] of rows) lines.push(`  ${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true })
  for (const file of files(positionals)) process.stdout.write(summarise(file, Number(values.top)) + '\n\n')
}
