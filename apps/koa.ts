import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import Koa from 'koa'

// A Koa app as Koa's docs write it, unchanged: the gateway calls app.callback() as node:http would.
const app = new Koa()
const router = new Router({ prefix: '/koa' })

router.get('/', (ctx) => { ctx.body = 'Hello from Koa' })
router.get('/users/:id', (ctx) => { ctx.body = { id: ctx.params.id, query: ctx.query } })
router.post('/echo', (ctx) => { ctx.body = { received: (ctx.request as { body?: unknown }).body } })
router.get('/old', (ctx) => {
  ctx.status = 301
  ctx.redirect('/koa/')
})

app.use(bodyParser())
app.use(router.routes())
app.use(router.allowedMethods())

export default app
