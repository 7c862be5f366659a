import { decodeParams, encodeParams } from '../fastcgi/params.ts'
import { encodeRecord, NULL_REQUEST_ID, RecordType } from '../fastcgi/records.ts'

/**
 * §4.1: the answer to FCGI_GET_VALUES. Only the three variables the spec defines are answered; names
 * we do not know are left out, as §4.1 asks. One request per connection (FCGI_MPXS_CONNS 0), so at most
 * as many requests as connections.
 */
export function answerGetValues (content: Uint8Array, maxConnections: number): Uint8Array {
  const known: Record<string, string> = {
    FCGI_MAX_CONNS: String(maxConnections),
    FCGI_MAX_REQS: String(maxConnections),
    FCGI_MPXS_CONNS: '0',
  }
  const answer: Array<[string, string]> = []
  for (const name of decodeParams(content).keys()) {
    if (Object.hasOwn(known, name)) answer.push([name, known[name]])
  }
  return encodeRecord(RecordType.GET_VALUES_RESULT, NULL_REQUEST_ID, encodeParams(answer))
}
