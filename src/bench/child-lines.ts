// The two lines serve.ts writes for its parent (gateway-child.ts), among pino's JSON log lines.

/** `{"warmgateBenchReady":{"url":…,"pid":…,"workers":…}}`, once listening. */
export const READY_KEY = 'warmgateBenchReady'
/** `{"warmgateBenchStats":{"completed":…,"failed":…,"workers":…}}`, every STATS_EVERY_MS. */
export const STATS_KEY = 'warmgateBenchStats'
export const STATS_EVERY_MS = 250
