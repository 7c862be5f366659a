import { pbkdf2Sync } from 'node:crypto'
import express from 'express'

// The Express app of bench/node-apps.ts, the same module for every peer: warmgate (warm, inline), the app
// listening itself, and Watt. hello answers the hello workload's body; cpu does the cpu workload's PBKDF2
// (?n= rounds, ~1 ms at 7000 here) and answers the same text.
const app = express()
app.set('etag', false)
app.set('x-powered-by', false)

app.get('/express/hello', (_req, res) => {
  res.type('text/plain').send('Hello, world!')
})

app.get('/express/cpu', (req, res) => {
  const n = Number(req.query.n ?? 7000)
  const rounds = Number.isSafeInteger(n) && n >= 1 && n <= 10_000_000 ? n : 7000
  const key = pbkdf2Sync('correct horse battery staple', 'warmgate', rounds, 16, 'sha256')
  res.type('text/plain').send(`${rounds} rounds: ${key.toString('hex')}\n`)
})

export default app
