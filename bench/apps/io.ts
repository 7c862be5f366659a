/**
 * The `io` workload of issue 5: awaits a 20 ms timer, as a handler waiting on a database or an upstream
 * would. Costs almost no CPU, so throughput is set by how many requests are in flight at once.
 * (Here for bench/peers.ts until the example apps gain apps/io.ts.)
 */
export const DELAY_MS = 20

export default async function io (): Promise<Response> {
  await new Promise(resolve => setTimeout(resolve, DELAY_MS))
  return new Response(`waited ${DELAY_MS} ms\n`, { headers: { 'content-type': 'text/plain; charset=utf-8' } })
}
