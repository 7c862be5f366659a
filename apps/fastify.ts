import Fastify from 'fastify'

// A Fastify app as Fastify's docs write it, unchanged: the gateway waits for ready() and calls its
// router as node:http would. It never calls listen().
const app = Fastify()

app.get('/fastify', async () => 'Hello from Fastify')
app.get('/fastify/users/:id', async (request) => ({ id: (request.params as { id: string }).id, query: request.query }))
app.post('/fastify/echo', async (request) => ({ received: request.body }))

export default app
