import { Hono } from 'hono'

// An existing framework, unchanged: a Hono app is an object with fetch(request, env, ctx).
// strict: false so that /hono/ matches like /hono (the gateway routes both here).
const app = new Hono<{ Bindings: { GREETING?: string } }>({ strict: false }).basePath('/hono')

app.get('/', (c) => c.text('Hello from Hono'))
app.get('/users/:id', (c) => c.json({ id: c.req.param('id'), greeting: c.env?.GREETING ?? null }))
app.post('/echo', async (c) => c.json({ received: await c.req.json() }))

export default app
