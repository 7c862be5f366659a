// An AWS Lambda handler, unchanged: an API Gateway HTTP API (payload 2.0) event in, a proxy result out.
// No default export, so warmgate detects it as a Lambda handler (README "AWS Lambda handlers").
interface HttpApiEvent {
  rawPath: string
  queryStringParameters?: Record<string, string>
  requestContext: { http: { method: string, sourceIp: string } }
}

export const handler = async (event: HttpApiEvent, context: { awsRequestId: string }): Promise<unknown> => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    from: event.requestContext.http.sourceIp,
    requestId: context.awsRequestId,
  }),
})
