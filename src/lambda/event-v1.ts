// API Gateway REST API Lambda proxy integration ("Lambda proxy integration input format"), which HTTP
// APIs also send as payload format 1.0. Pure: the request in, the event out.
import { domainOf, encodeBody, formatRequestTime, LOCAL_ACCOUNT_ID, LOCAL_API_ID, queryPairs, splitTarget, type EventInput } from './event-input.ts'

export interface EventV1 {
  version: '1.0'
  resource: string
  path: string
  httpMethod: string
  headers: Record<string, string> | null
  multiValueHeaders: Record<string, string[]> | null
  queryStringParameters: Record<string, string> | null
  multiValueQueryStringParameters: Record<string, string[]> | null
  requestContext: {
    accountId: string
    apiId: string
    domainName: string
    domainPrefix: string
    extendedRequestId: string
    httpMethod: string
    identity: Record<string, string | null>
    path: string
    protocol: string
    requestId: string
    requestTime: string
    requestTimeEpoch: number
    resourceId: string
    resourcePath: string
    stage: string
  }
  pathParameters: null
  stageVariables: null
  body: string | null
  isBase64Encoded: boolean
}

/**
 * AWS's rules: `headers` and `queryStringParameters` hold the last value of a repeated name, the
 * `multiValue*` maps every value in order; maps with nothing in them are `null`, as is a missing body.
 * Header names keep the case the client sent, as REST API does (every mode has the raw header list: cold
 * runners get it beside the CGI variables). `version: '1.0'` is what HTTP APIs add.
 */
export function createEventV1 (input: EventInput): EventV1 {
  const headers: Record<string, string> = {}
  const multiValueHeaders: Record<string, string[]> = {}
  const raw = input.headers
  let contentType: string | undefined
  let userAgent: string | null = null
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    headers[name] = raw[i + 1]
    ;(multiValueHeaders[name] ??= []).push(raw[i + 1])
    const lower = name.toLowerCase()
    if (lower === 'content-type') contentType = raw[i + 1]
    else if (lower === 'user-agent') userAgent = raw[i + 1]
  }
  const { path, query } = splitTarget(input.url)
  const pairs = queryPairs(query)
  const single: Record<string, string> = {}
  const multi: Record<string, string[]> = {}
  for (const [name, value] of pairs) {
    single[name] = value
    ;(multi[name] ??= []).push(value)
  }
  const hasHeaders = raw.length > 0
  const body = encodeBody(input.body, contentType)
  return {
    version: '1.0',
    resource: path,
    path,
    httpMethod: input.method,
    headers: hasHeaders ? headers : null,
    multiValueHeaders: hasHeaders ? multiValueHeaders : null,
    queryStringParameters: pairs.length > 0 ? single : null,
    multiValueQueryStringParameters: pairs.length > 0 ? multi : null,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      ...domainOf(input.url),
      extendedRequestId: input.requestId,
      httpMethod: input.method,
      identity: identity(input.sourceIp, userAgent),
      path,
      protocol: input.protocol,
      requestId: input.requestId,
      requestTime: formatRequestTime(input.time),
      requestTimeEpoch: input.time,
      resourceId: LOCAL_API_ID,
      resourcePath: path,
      stage: '$default',
    },
    pathParameters: null,
    stageVariables: null,
    body: body?.body ?? null,
    isBase64Encoded: body?.isBase64Encoded ?? false,
  }
}

/** No IAM or Cognito caller behind a local gateway: those fields are null, as for an anonymous call. */
function identity (sourceIp: string, userAgent: string | null): Record<string, string | null> {
  return {
    accessKey: null,
    accountId: null,
    caller: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  }
}
