import { realpath, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { GatewayError, isGatewayError } from '../../errors.ts'
import type { CgiChild } from '../../spawn/spawner.ts'
import type { BufferedRequest, GatewayResponse } from '../../types.ts'
import { runCgi } from './cgi-exchange.ts'
import { cgiEnvironment, pathOf, rawUrl } from './cgi-request.ts'
import { findScript, type ScriptLookup, type ScriptMatch } from './cgi-script.ts'
import { ProcessRuntime } from '../process-runtime.ts'

/**
 * How long a script lookup is trusted (lighttpd's stat cache does the same with its entries): the lookup's
 * `lstat` and `access` calls were ~10% of the gateway's CPU for a sh hello script. A script deleted or made
 * non-executable within it fails to spawn, and that failure makes a fresh lookup (404/403 as always); a new
 * one is found at once (only found scripts are kept). Bounded: a client inventing paths costs a lookup
 * each, not memory. What the trust can miss: a script replaced by a symlink within the second runs the
 * file the lookup found (the old real path), never the link's new target.
 */
const LOOKUP_TTL_MS = 1000
const LOOKUP_CACHE_MAX = 1024

/** A directory of CGI/1.1 executables in any language (lighttpd's mod_cgi, Apache's ScriptAlias). */
export class CgiRuntime extends ProcessRuntime {
  readonly mode = 'cgi' as const
  #root = ''
  readonly #lookups = new Map<string, { script: ScriptMatch, at: number }>()

  protected async onStart (): Promise<void> {
    const info = await stat(this.app.entry).catch(() => undefined)
    if (info === undefined || !info.isDirectory()) {
      throw new GatewayError('WG_ERR_ENTRY_NOT_FOUND', `apps.${this.app.name}.cgi: directory not found: ${this.app.entry}`)
    }
    this.#root = await realpath(this.app.entry)
  }

  protected async run (req: BufferedRequest, signal: AbortSignal, track: (child: CgiChild) => void): Promise<GatewayResponse> {
    // The path as sent, not as the URL parser resolved it: `/cgi-bin/sub/../x.sh` and `%2e%2e` reach the
    // lookup (and are refused there) instead of being quietly turned into another script.
    const url = rawUrl(req)
    const path = pathOf(url)
    const route = this.app.route
    if (route !== '/' && path !== route && !path.startsWith(`${route}/`)) {
      throw new GatewayError('WG_ERR_BAD_REQUEST', `the request path ${JSON.stringify(path.slice(0, 200))} reaches ${route} only after dot segments are resolved`)
    }
    const found = this.#lookup(route, path)
    if (!found.ok) throw new GatewayError(found.code, found.reason)
    const { script } = found
    // A cgi app's `env` is the script's environment too, under the meta-variables (which it cannot override).
    const env = { ...this.app.env, ...cgiEnvironment(this.app, req, {
      scriptName: script.scriptName,
      pathInfo: script.pathInfo,
      scriptFilename: script.filename,
      documentRoot: this.#root,
      passAuthorization: this.app.passAuthorization,
    }, url) }
    try {
      return await runCgi(
        { file: script.filename, args: [], env, cwd: dirname(script.filename), stdin: req.body },
        signal,
        { spawner: this.hooks.spawner, log: this.hooks.log, reqId: req.id, nph: script.nph, onChild: track },
      )
    } catch (error) {
      // The script could not be started: if a trusted lookup is why (deleted, made non-executable since),
      // the request gets the answer a fresh lookup gives (404, 403), not a 502. Nothing ran, so it is safe.
      if (!isGatewayError(error) || error.code !== 'WG_ERR_SPAWN') throw error
      this.#lookups.delete(path)
      const again = findScript(this.#root, route, path)
      if (!again.ok) throw new GatewayError(again.code, again.reason)
      throw error
    }
  }

  #lookup (route: string, path: string): ScriptLookup {
    const now = performance.now()
    const kept = this.#lookups.get(path)
    if (kept !== undefined && now - kept.at < LOOKUP_TTL_MS) return { ok: true, script: kept.script }
    const found = findScript(this.#root, route, path)
    if (found.ok) {
      if (this.#lookups.size >= LOOKUP_CACHE_MAX) this.#lookups.clear()
      this.#lookups.set(path, { script: found.script, at: now })
    } else {
      this.#lookups.delete(path)
    }
    return found
  }
}
