import { readFileSync } from 'node:fs'

/** warmgate's own version, from its package.json: one level up from src/ in a clone and from dist/ when installed. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
