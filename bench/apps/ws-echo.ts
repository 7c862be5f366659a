import type { WebSocketPeer } from '../../src/index.ts'

// The WebSocket echo of bench/node-apps.ts: every message back as it came.
export default {
  fetch: () => new Response('websocket echo\n'),
  websocket: {
    message (peer: WebSocketPeer, message: string | Uint8Array) {
      peer.send(message)
    },
  },
}
