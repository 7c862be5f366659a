/**
 * The pages `warmgate dev` serves itself (error pages, the route list at `/`) reload in the browser after
 * a save: a small script polls `<adminPrefix>/dev/version` (dev-routes.ts), a counter the watcher bumps
 * each time it swaps apps (dev-server.ts), and reloads the page when the answer differs from the one the
 * page was rendered with. The answer names this process too, so a page also reloads once `dev` restarts.
 * Polling, not a held connection: nothing for close() to wait for, and a server that is down is retried.
 */
export class LiveReload {
  /** Differs between two runs of `warmgate dev`. */
  readonly instance = `${process.pid.toString(36)}-${Date.now().toString(36)}`
  #version = 0
  readonly #prefix: () => string

  /** `prefix`: the admin prefix, read when used (a config reload may change it). */
  constructor (prefix: () => string) {
    this.#prefix = prefix
  }

  get path (): string {
    return `${this.#prefix()}/dev/version`
  }

  get version (): number {
    return this.#version
  }

  /** After a swap: pages rendered before it reload. */
  bump (): void {
    this.#version++
  }

  /** What the endpoint answers. */
  json (): string {
    return JSON.stringify({ instance: this.instance, version: this.#version })
  }

  /**
   * The `<script>` for a page rendered now. Bounded and cheap: one tiny GET a second while the tab is
   * visible (none while it is hidden), backing off to one every 10 s while the server does not answer,
   * and none after an hour's worth of polls.
   */
  script (): string {
    const url = inScript(this.path)
    const seen = inScript(`${this.instance}.${this.#version}`)
    return `<script>
(() => {
  const url = ${url}, seen = ${seen}
  let left = 3600, wait = 1000
  const next = () => { if (--left > 0) setTimeout(poll, wait) }
  const poll = () => {
    if (document.hidden) return document.addEventListener('visibilitychange', poll, { once: true })
    fetch(url, { cache: 'no-store' }).then(res => res.ok ? res.json() : Promise.reject(new Error(String(res.status)))).then((v) => {
      wait = 1000
      if (v.instance + '.' + v.version !== seen) location.reload()
      else next()
    }, () => { wait = Math.min(wait * 2, 10000); next() })
  }
  next()
})()
</script>
`
  }
}

let active: LiveReload | undefined

/** Set by `warmgate dev` (one gateway per process): pages rendered from then on carry its script. */
export function setLiveReload (live: LiveReload | undefined): void {
  active = live
}

/** The script for a page rendered now, or nothing outside `warmgate dev`. */
export function liveReloadScript (): string {
  return active?.script() ?? ''
}

/** A JSON literal safe inside `<script>` (no `</script>` can end it early). */
function inScript (value: string): string {
  return JSON.stringify(value).replace(/</g, '\\u003c')
}
