import type { FetchHandler } from 'warmgate'

// The image's example app: replace deploy/app/ (this config and its apps) with your own project's.
const hello: FetchHandler = (_request, _env, ctx) => new Response(`Hello from warmgate (${ctx.mode} mode)\n`, {
  headers: { 'content-type': 'text/plain; charset=utf-8' },
})

export default hello
