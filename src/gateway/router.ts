/**
 * Longest-prefix routing: `/hello` matches `/hello`, `/hello/` and `/hello/x`, never `/helloworld`.
 * The table is sorted once at start-up; a lookup is a short linear scan (apps are few).
 */
export class Router<T> {
  readonly #routes: Array<{ prefix: string, target: T }>

  constructor (routes: Iterable<[string, T]>) {
    this.#routes = [...routes]
      .map(([prefix, target]) => ({ prefix, target }))
      .sort((a, b) => b.prefix.length - a.prefix.length)
  }

  match (pathname: string): T | undefined {
    for (const { prefix, target } of this.#routes) {
      if (prefix === '/') return target
      if (pathname.startsWith(prefix) && (pathname.length === prefix.length || pathname.charCodeAt(prefix.length) === 47)) {
        return target
      }
    }
    return undefined
  }
}
