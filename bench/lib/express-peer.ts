// The Express app of bench/node-apps.ts listening itself (node:http, one process, one thread): what the
// app's own docs run. Same start-up contract as serve.ts (peer-process.ts).
//   node bench/lib/express-peer.ts
import { createServer } from 'node:http'
import app from '../apps/express.ts'
import { listenAndAnnounce } from './peer-process.ts'

const server = createServer(app)
await listenAndAnnounce(server, 'express', 'express')
