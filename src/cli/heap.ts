import { setFlagsFromString } from 'node:v8'

/**
 * Keeps the main isolate's young generation at its start-up size (V8 `--semi-space-growth-factor=1`).
 *
 * Why: in warm mode, requests waiting for a worker round trip outlive the main thread's scavenges whenever
 * the round trip is slow (cores shared with the workers), and V8 answers sustained survival by doubling the
 * young generation, up to 128 MB committed for ~10 MB of live objects. Measured with `npm run bench:quick`
 * (hello world, 2 warm workers, 50 connections): peak RSS 363 MB → 204 MB; inline unchanged (124 MB, same
 * req/s and p99). V8 reads this flag at each resize, so it works when set at run time, unlike
 * `--max-semi-space-size`, which is fixed when the isolate starts. It is process-wide, so only the
 * `warmgate` CLI sets it; an embedder can call this too, or pass the flag to node.
 */
export function fixYoungGeneration (): void {
  setFlagsFromString('--semi-space-growth-factor=1')
}
