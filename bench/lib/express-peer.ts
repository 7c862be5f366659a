// The Express app of bench/node-apps.ts listening itself (node:http, one process, one thread): what the
// app's own docs run. Same start-up contract as serve.ts (peer-process.ts).
//   node bench/lib/express-peer.ts
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:http'
import app from '../apps/express.ts'
import { announcePeer } from './peer-process.ts'

const server = createServer(app)
await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
announcePeer({
  port: (server.address() as AddressInfo).port,
  close: async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  },
}, 'express', 'express')
