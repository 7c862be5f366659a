import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadConfigFile } from '../../src/config/load.ts'
import type { ResolvedConfig } from '../../src/config/resolve.ts'
import { ROOT } from '../helpers/gateway.ts'

// The Dockerfile and Kubernetes manifests cannot run here (no Docker, no cluster): this checks what can
// be checked against the gateway itself. YAML is parsed by PyYAML (python3), as no YAML parser is a
// dependency of this package; skipped with a printed reason where it is missing.

const K8S = join(ROOT, 'deploy', 'k8s')
const CONFIG = join(ROOT, 'deploy', 'app', 'gateway.config.ts')
// The health and readiness paths of the gateway's admin endpoints (README: Health and metrics).
const HEALTH = '/__warmgate/health'
const READY = '/__warmgate/ready'
/** Per worker thread beyond its old-generation limit, and for the main thread: deployment.yaml's arithmetic. */
const WORKER_OVERHEAD_MIB = 16
const MAIN_MIB = 150

const pyyaml = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8', timeout: 10_000 })
const hasYaml = pyyaml.status === 0
if (!hasYaml) console.log(`skipping the Kubernetes manifest checks: python3 with PyYAML is not available (${(pyyaml.stderr ?? pyyaml.error?.message ?? '').trim()})`)

/** A parsed manifest: shapes are checked by the assertions themselves. */
type Doc = Record<string, any>

/** Every YAML document of `file`, parsed by PyYAML's safe loader and handed over as JSON. */
function parseYaml (file: string): Doc[] {
  const script = 'import sys, json, yaml\nprint(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))'
  const result = spawnSync('python3', ['-c', script, file], { encoding: 'utf8', timeout: 10_000 })
  if (result.status !== 0) throw new Error(`${file} does not parse as YAML: ${result.stderr}`)
  return JSON.parse(result.stdout) as Doc[]
}

function mebibytes (quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity)
  if (match === null) throw new Error(`memory quantity ${quantity}: expected Mi or Gi`)
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1)
}

let config: ResolvedConfig
beforeAll(async () => {
  config = await loadConfigFile(CONFIG)
})

describe('deploy/app/gateway.config.ts (the config the image serves)', () => {
  it('loads, listens on every interface, and its entries exist', () => {
    expect(config.server.host).toBe('0.0.0.0')
    for (const app of config.apps) expect(existsSync(app.entry), app.entry).toBe(true)
  })

  it('serves the probe paths the manifests and the Dockerfile use, on the main port', () => {
    expect(config.server.ops.admin).toBeUndefined()
    expect(`${config.server.ops.adminPrefix}/health`).toBe(HEALTH)
    expect(`${config.server.ops.adminPrefix}/ready`).toBe(READY)
  })
})

describe.skipIf(!hasYaml)('deploy/k8s', () => {
  let deployment: Doc, service: Doc, hpa: Doc, container: Doc
  beforeAll(() => {
    ;[deployment] = parseYaml(join(K8S, 'deployment.yaml'))
    ;[service] = parseYaml(join(K8S, 'service.yaml'))
    ;[hpa] = parseYaml(join(K8S, 'hpa.yaml'))
    container = deployment.spec.template.spec.containers[0]
  })

  it('has one Deployment, Service and HorizontalPodAutoscaler, whose selectors and targets match', () => {
    expect([deployment.kind, service.kind, hpa.kind]).toEqual(['Deployment', 'Service', 'HorizontalPodAutoscaler'])
    const labels = deployment.spec.template.metadata.labels
    expect(deployment.spec.selector.matchLabels).toEqual(labels)
    expect(service.spec.selector).toEqual(labels)
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name })
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas)
  })

  it("probes the gateway's health and readiness paths on the config's port", () => {
    const http = container.ports.find((port: Doc) => port.name === 'http')
    expect(http.containerPort).toBe(config.server.port)
    expect(container.readinessProbe.httpGet).toEqual({ path: READY, port: 'http' })
    expect(container.livenessProbe.httpGet).toEqual({ path: HEALTH, port: 'http' })
    expect(service.spec.ports[0].targetPort).toBe('http')
  })

  it('gives the pod more time to stop than preStop plus server.shutdownTimeout', () => {
    const [command, seconds] = container.lifecycle.preStop.exec.command
    expect(command).toBe('sleep')
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds
    expect(grace).toBeGreaterThan(Number(seconds) + config.server.shutdownTimeoutMs / 1000)
  })

  it('sets a memory limit that holds every warm app at workers.max x memoryMb, plus the main thread', () => {
    let needed = MAIN_MIB
    for (const app of config.apps) {
      if (app.mode !== 'warm') continue
      expect(app.memoryMb, `${app.name}: memoryMb must be set for the arithmetic`).toBeDefined()
      needed += app.workers.max * ((app.memoryMb as number) + WORKER_OVERHEAD_MIB)
    }
    const limit = mebibytes(container.resources.limits.memory)
    expect(limit).toBeGreaterThanOrEqual(needed)
    expect(mebibytes(container.resources.requests.memory)).toBe(limit)
  })

  it('runs as a non-root user', () => {
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true)
    expect(deployment.spec.template.spec.securityContext.runAsUser).not.toBe(0)
  })
})

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const instruction = (name: string): string[] => dockerfile.split('\n').filter(line => line.startsWith(`${name} `)).map(line => line.slice(name.length + 1).trim())

  it("checks health with node's fetch on the gateway's health path and the config's port", () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:(\d+)(\/[^']*)'\)/m)
    const [, port, path] = /fetch\('http:\/\/127\.0\.0\.1:(\d+)(\/[^']*)'\)/.exec(dockerfile) ?? []
    expect([Number(port), path]).toEqual([config.server.port, HEALTH])
    expect(instruction('EXPOSE')).toEqual([String(config.server.port)])
  })

  it('installs the packed package on a node >= 22.19 image and runs `warmgate start` on deploy/app as a non-root user, under tini, stopped by SIGTERM', () => {
    // 24: a floating tag at >= 22.19 (package.json engines) that strips types without a flag.
    for (const from of instruction('FROM')) expect(Number(/^node:(\d+)/.exec(from)?.[1])).toBeGreaterThanOrEqual(24)
    expect(dockerfile).toMatch(/RUN npm pack --pack-destination \/pkg/)
    expect(dockerfile).toMatch(/npm install --omit=dev .*\/tmp\/pkg\/warmgate-\*\.tgz/)
    // Nothing of the repository's sources in the final image: only the tarball's dist/ and the project.
    expect(instruction('COPY').filter(line => !line.startsWith('--from=pack'))).toEqual(expect.arrayContaining(['deploy/app/ ./']))
    expect(instruction('COPY').filter(line => /\bsrc\b/.test(line))).toEqual([])
    expect(instruction('USER')).toEqual(['node'])
    expect(instruction('STOPSIGNAL')).toEqual(['SIGTERM'])
    expect(instruction('WORKDIR').at(-1)).toBe('/app')
    expect(instruction('ENTRYPOINT')).toEqual(['["/usr/bin/tini", "--", "/app/node_modules/.bin/warmgate"]'])
    expect(JSON.parse(instruction('CMD')[0])).toEqual(['start'])
    // `warmgate start` in /app finds /app/gateway.config.ts: deploy/app/gateway.config.ts.
    expect(existsSync(join(ROOT, 'deploy', 'app', 'gateway.config.ts'))).toBe(true)
  })

  it('.dockerignore keeps node_modules out of the build context', () => {
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')).toContain('node_modules')
  })
})
