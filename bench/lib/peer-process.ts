// The start-up contract of the in-process peers of bench/peers.ts (node-peer.ts, fetch-peer.ts), the same as
// serve.ts's: one JSON line with `warmgateBenchReady`, the URL and the pid once listening; exit when stdin
// closes (the parent went away) or on SIGTERM/SIGINT, bounded by 2 s.

export interface RunningPeer {
  port: number
  close: () => Promise<void>
}

/** Announces `running` on stdout and stops it when the parent says so or goes away. */
export function announcePeer (running: RunningPeer, server: string, app: string): void {
  process.stdout.write(JSON.stringify({ warmgateBenchReady: true, url: `http://127.0.0.1:${running.port}`, pid: process.pid, server, app }) + '\n')
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // Bounded: the parent SIGKILLs after its grace period anyway; exiting normally lets --cpu-prof write.
    setTimeout(() => process.exit(1), 2000).unref()
    running.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop).on('error', stop).resume()
}

/** Listens on 127.0.0.1 (an ephemeral port) and announces it, closing its connections when stopped. */
export async function listenAndAnnounce (server: import('node:http').Server, name: string, app: string): Promise<void> {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  announcePeer({
    port: (server.address() as import('node:net').AddressInfo).port,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }, name, app)
}
