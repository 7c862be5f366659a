// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
import { isHeaderName, linkPrototype, trimHeaderValue } from './light-response.ts'

/** The real Headers behind a light one, made now if need be (a symbol: no member a handler could see). */
export const REAL_HEADERS = Symbol('warmgate.realHeaders')

/**
 * A light Request's `headers` (light-request.ts): the reads a handler makes of its request's headers
 * (`get`, `has`, iterating, `getSetCookie`) answered from the raw header pairs, without Node's Request.
 * Reading a header was what made most handlers load undici: in a cold process ~25 ms, as long as the
 * rest of the request (README "Fetch classes").
 *
 * The pairs are already valid header names and values (Node's parser took them, or invoke.ts checked a
 * CGI environment's), so a read cannot fail on them. Everything else goes to the real Request's own
 * Headers, made at that moment from the same parts, and from then on every member answers from it: a
 * change (`set`, `append`, `delete`, which then reaches `fetch(request)` as with undici), a call undici
 * would refuse (a bad name, a missing argument: it throws its own error), `util.inspect`.
 */
export class LightHeaders {
  /** The real Headers, once there is one; then it answers everything. */
  readonly #real: () => Headers | undefined
  readonly #materialize: () => Headers
  readonly #raw: string[]
  /** `[lower-case name, value, …]`, made on first read. */
  #list: string[] | undefined

  constructor (raw: string[], real: () => Headers | undefined, materialize: () => Headers) {
    this.#raw = raw
    this.#real = real
    this.#materialize = materialize
  }

  get (name: string): string | null {
    const real = this.#real()
    // Spread: undici counts the arguments (`get()` is a TypeError, `get(undefined)` reads "undefined").
    if (real !== undefined || arguments.length < 1 || !isHeaderName(name)) return (real ?? this.#materialize()).get(...(arguments as unknown as [string]))
    const key = name.toLowerCase()
    const list = this.#pairs()
    let value: string | null = null
    for (let i = 0; i < list.length; i += 2) {
      // undici's HeadersList.append: repeats joined by ', ', Cookie's by '; ' (RFC 6265 §5.4).
      if (list[i] === key) value = value === null ? list[i + 1] : `${value}${key === 'cookie' ? '; ' : ', '}${list[i + 1]}`
    }
    return value
  }

  has (name: string): boolean {
    const real = this.#real()
    if (real !== undefined || arguments.length < 1 || !isHeaderName(name)) return (real ?? this.#materialize()).has(...(arguments as unknown as [string]))
    const key = name.toLowerCase()
    const list = this.#pairs()
    for (let i = 0; i < list.length; i += 2) if (list[i] === key) return true
    return false
  }

  getSetCookie (): string[] {
    const real = this.#real()
    if (real !== undefined) return real.getSetCookie()
    const list = this.#pairs()
    const cookies: string[] = []
    for (let i = 0; i < list.length; i += 2) if (list[i] === 'set-cookie') cookies.push(list[i + 1])
    return cookies
  }

  set (name: string, value: string): void {
    this.#materialize().set(...(arguments as unknown as [string, string]))
  }

  append (name: string, value: string): void {
    this.#materialize().append(...(arguments as unknown as [string, string]))
  }

  delete (name: string): void {
    this.#materialize().delete(...(arguments as unknown as [string]))
  }

  forEach (callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    const real = this.#real()
    if (real !== undefined || typeof callback !== 'function') return (real ?? this.#materialize()).forEach(...(arguments as unknown as [typeof callback]))
    // undici's default `this` for the callback is globalThis (its iterator mixin).
    for (const [name, value] of this.#sorted()) callback.call(arguments.length > 1 ? thisArg : globalThis, value, name, this as unknown as Headers)
  }

  // The iterators are arrays' (a snapshot: undici's are "Headers Iterator" objects over its sorted list).
  entries (): IterableIterator<[string, string]> {
    const real = this.#real()
    return real !== undefined ? real.entries() : this.#sorted()[Symbol.iterator]()
  }

  keys (): IterableIterator<string> {
    const real = this.#real()
    return real !== undefined ? real.keys() : this.#sorted().map(([name]) => name)[Symbol.iterator]()
  }

  values (): IterableIterator<string> {
    const real = this.#real()
    return real !== undefined ? real.values() : this.#sorted().map(([, value]) => value)[Symbol.iterator]()
  }

  declare [Symbol.iterator]: () => IterableIterator<[string, string]>

  [REAL_HEADERS] (): Headers {
    return this.#real() ?? this.#materialize()
  }

  #pairs (): string[] {
    if (this.#list === undefined) {
      const raw = this.#raw
      const list: string[] = new Array(raw.length)
      for (let i = 0; i < raw.length; i += 2) {
        list[i] = raw[i].toLowerCase()
        list[i + 1] = trimHeaderValue(raw[i + 1])
      }
      this.#list = list
    }
    return this.#list
  }

  /** Fetch "sort and combine": names in order, repeats combined as `get` does, each Set-Cookie on its own. */
  #sorted (): [string, string][] {
    const list = this.#pairs()
    const names: string[] = []
    for (let i = 0; i < list.length; i += 2) if (!names.includes(list[i])) names.push(list[i])
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const out: [string, string][] = []
    for (const name of names) {
      if (name === 'set-cookie') for (const cookie of this.getSetCookie()) out.push([name, cookie])
      else out.push([name, this.get(name) as string])
    }
    return out
  }
}

LightHeaders.prototype[Symbol.iterator] = LightHeaders.prototype.entries
Object.defineProperty(LightHeaders.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true })
Object.defineProperty(LightHeaders.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value (this: LightHeaders, depth: number, options: object) {
    return process.getBuiltinModule('node:util').inspect(this[REAL_HEADERS](), options)
  },
})
Object.defineProperty(LightHeaders, 'name', { value: 'Headers' })

/**
 * Once undici is loaded: `instanceof Headers` holds for a light one, and whatever Headers.prototype has
 * that this class does not (a newer Node) answers from the real Headers.
 */
export function linkHeaders (real: typeof Headers): void {
  linkPrototype(LightHeaders.prototype, real.prototype, ((self: LightHeaders) => self[REAL_HEADERS]()) as (self: never) => object)
  // `headers.constructor === Headers`, and `new headers.constructor(init)` makes a real one, as with undici's.
  Object.defineProperty(LightHeaders.prototype, 'constructor', { value: real, writable: true, configurable: true, enumerable: false })
}
