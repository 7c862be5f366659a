import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { stopChild, track } from './children.ts'
import { readCpuSeconds } from './proc.ts'

const REPORT_LUA = fileURLToPath(new URL('../../src/bench/report.lua', import.meta.url))

/** What src/bench/report.lua prints (latencies in µs). */
export interface WrkReport {
  duration_us: number
  requests: number
  bytes: number
  err_connect: number
  err_read: number
  err_write: number
  err_status: number
  err_timeout: number
  lat_mean_us: number
  lat_max_us: number
  p50_us: number
  p90_us: number
  p99_us: number
  p999_us: number
}

export interface WrkSettings {
  threads: number
  connections: number
  /** wrk's request timeout, seconds: slower requests count as timeout errors. */
  timeoutS: number
}

/** wrk's version line, or undefined when wrk is not on PATH. */
export function wrkVersion (): string | undefined {
  const result = spawnSync('wrk', ['--version'], { encoding: 'utf8', timeout: 5000 })
  if (result.error !== undefined) return undefined
  return (result.stdout + result.stderr).split('\n')[0].trim()
}

/** The exact argument list: built from the settings alone, so every variant of a scenario gets the same one. */
export function wrkArgs (settings: WrkSettings, durationS: number, url: string): string[] {
  return [
    `-t${settings.threads}`, `-c${settings.connections}`, `-d${durationS}s`, `--timeout`, `${settings.timeoutS}s`,
    '-s', REPORT_LUA, url,
  ]
}

/** Runs wrk to completion (bounded: killed at duration + 15 s) and returns its report and CPU time. */
export async function runWrk (settings: WrkSettings, durationS: number, url: string): Promise<{ report: WrkReport, cpuSeconds: number | undefined }> {
  const child = track(spawn('wrk', wrkArgs(settings, durationS, url), { stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  // wrk's CPU time: the last reading before it exits (sampled, so it may miss up to the last 100 ms).
  let cpuSeconds: number | undefined
  const pid = child.pid as number
  const cpuTimer = setInterval(() => { cpuSeconds = readCpuSeconds(pid) ?? cpuSeconds }, 100)
  const killTimer = setTimeout(() => { void stopChild(child, 1000) }, (durationS + 15) * 1000)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (exitCode) => resolve(exitCode))
    })
    if (code !== 0) throw new Error(`wrk exited with ${code}\n${stdout}${stderr}`)
  } finally {
    clearInterval(cpuTimer)
    clearTimeout(killTimer)
  }
  const line = stdout.split('\n').find(l => l.startsWith('WRK_JSON '))
  if (line === undefined) throw new Error(`wrk printed no WRK_JSON line\n${stdout}${stderr}`)
  return { report: JSON.parse(line.slice('WRK_JSON '.length)) as WrkReport, cpuSeconds }
}
