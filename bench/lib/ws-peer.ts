// A bare `ws` echo server on node:http, one process: the ceiling for WebSocket echo in bench/node-apps.ts.
// Same start-up contract as serve.ts (peer-process.ts).
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { listenAndAnnounce } from './peer-process.ts'

const server = createServer((_req, res) => { res.end('websocket echo\n') })
// The gateway's own settings: no compression, no client tracking.
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false })
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
})
await listenAndAnnounce(server, 'ws', 'ws-echo')
