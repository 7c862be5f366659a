import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIXTURES, startGateway, type Started } from '../helpers/gateway.ts'

// Cold mode's start-up floor (issue 3): a handler that only answers text must not load undici in its
// process (~22 ms of every request); one that reads its request's headers gets Node's real classes.
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

  it('loads undici as soon as the handler reads its request headers, and still answers', async () => {
    const res = await request(`${started.url}/probe?headers`)
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
