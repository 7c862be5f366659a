import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIXTURES, startGateway, type Started } from '../helpers/gateway.ts'

// Cold mode's start-up floor (issue 3): a handler that answers text, reads its request's headers or its
// body must not load undici in its process (~22-25 ms of every request); one that changes a request
// header gets Node's real classes.
describe('cold mode with the light fetch classes', () => {
  let started: Started
  beforeAll(async () => {
    started = await startGateway({ apps: { probe: { route: '/probe', entry: `${FIXTURES}handlers/undici-loaded.ts`, mode: 'cold', timeout: '20s' } } })
  })
  afterAll(() => started.gateway.close())

  it('answers a text response without loading undici', async () => {
    const res = await request(`${started.url}/probe`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/plain;charset=UTF-8')
    expect(await res.body.text()).toBe('not loaded')
  })

  it('reads request headers and a JSON body without loading undici', async () => {
    const res = await request(`${started.url}/probe?headers&body`, { method: 'POST', headers: { 'x-probe': '1', 'content-type': 'application/json' }, body: '{"a":[1,2]}' })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('host probe true; {"a":[1,2]}; not loaded')
  })

  it('loads undici as soon as the handler changes a request header, and still answers', async () => {
    const res = await request(`${started.url}/probe?change`)
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('loaded')
  })

  it('answers HEAD with the length GET would have and no body', async () => {
    const res = await request(`${started.url}/probe`, { method: 'HEAD' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-length']).toBe(String('not loaded'.length))
    expect(await res.body.text()).toBe('')
  })
})
