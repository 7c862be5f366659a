/** The smallest handler: a 13-byte text answer. */
export default function hello (): Response {
  return new Response('Hello, world!', { headers: { 'content-type': 'text/plain; charset=utf-8' } })
}
