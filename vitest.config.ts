import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts real gateways (worker threads, sockets): forks keep them apart.
    pool: 'forks',
    // Vitest's default (one fewer than the cores) runs one file at a time on a 2-core machine, and most
    // files spend their time waiting on gateways, processes and timers: two at a time took the suite from
    // 668 s to 430 s there, every test passing.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
})
