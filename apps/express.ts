import express, { type NextFunction, type Request, type Response } from 'express'

// An Express 5 app as Express's own docs write it, unchanged: the gateway calls it as node:http would.
// It never calls listen(). Routes include the app's route prefix: the gateway passes the path as received.
const app = express()
const router = express.Router()

router.use(express.json())
router.use(express.urlencoded({ extended: false }))

router.get('/', (_req, res) => { res.send('Hello from Express') })
router.get('/users/:id', (req, res) => { res.json({ id: req.params.id, query: req.query }) })
router.post('/echo', (req, res) => { res.json({ received: req.body }) })
router.get('/cookie', (req, res) => {
  res.cookie('seen', 'yes', { httpOnly: true })
  res.cookie('theme', 'dark')
  res.json({ cookie: req.headers.cookie ?? null })
})
router.get('/old', (_req, res) => { res.redirect(301, '/express/') })
router.get('/file', (_req, res) => { res.sendFile('note.txt', { root: new URL('./public', import.meta.url).pathname }) })
router.get('/fail', () => { throw new Error('route failed') })

app.use('/express', router)

// Error middleware: four parameters, as Express recognises it.
app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
  res.status(500).json({ error: error.message })
})

export default app
