import { describe, expect, it } from 'vitest'
import { buildCgiEnvironment, type CgiEnvironmentInput } from '../../src/cgi/environment.ts'

// Cases ported from Go's net/http/cgi host_test.go (TestCGIBasicGet, TestPathInfo, TestDupHeaders,
// TestDropProxyHeader, TestCGIBasicPost), plus every rule of issue 3 §2.

function input (overrides: Partial<CgiEnvironmentInput> = {}): CgiEnvironmentInput {
  return {
    method: 'GET',
    url: 'http://example.com/test.cgi?foo=bar&a=b',
    headers: ['Host', 'example.com'],
    bodyLength: null,
    scriptName: '/test.cgi',
    pathInfo: '',
    scriptFilename: '/srv/cgi-bin/test.cgi',
    documentRoot: '/srv/htdocs',
    httpVersion: '1.0',
    serverSoftware: 'warmgate/0.1.0',
    remoteAddress: '1.2.3.4',
    remotePort: 1234,
    https: false,
    gatewayEnv: { PATH: '/usr/bin:/bin', SECRET_TOKEN: 'hunter2', TZ: 'UTC', HOME: '/root' },
    ...overrides,
  }
}

describe('buildCgiEnvironment', () => {
  it('sets exactly the RFC 3875 meta-variables, HTTP_HOST and PATH for a basic GET', () => {
    expect(buildCgiEnvironment(input())).toEqual({
      PATH: '/usr/bin:/bin',
      HTTP_HOST: 'example.com',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.0',
      SERVER_SOFTWARE: 'warmgate/0.1.0',
      SERVER_NAME: 'example.com',
      SERVER_PORT: '80',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'foo=bar&a=b',
      SCRIPT_NAME: '/test.cgi',
      PATH_INFO: '',
      SCRIPT_FILENAME: '/srv/cgi-bin/test.cgi',
      REQUEST_URI: '/test.cgi?foo=bar&a=b',
      REMOTE_ADDR: '1.2.3.4',
      REMOTE_PORT: '1234',
    })
  })

  it('sets PATH_INFO and PATH_TRANSLATED for a path after the script', () => {
    const env = buildCgiEnvironment(input({ url: 'http://example.com/test.cgi/extrapath?a=b', pathInfo: '/extrapath', documentRoot: '/srv/htdocs/' }))
    expect(env.PATH_INFO).toBe('/extrapath')
    expect(env.PATH_TRANSLATED).toBe('/srv/htdocs/extrapath')
    expect(env.SCRIPT_NAME).toBe('/test.cgi')
    expect(env.QUERY_STRING).toBe('a=b')
    expect(env.REQUEST_URI).toBe('/test.cgi/extrapath?a=b')
  })

  it('leaves PATH_TRANSLATED unset when there is no path info', () => {
    expect(buildCgiEnvironment(input())).not.toHaveProperty('PATH_TRANSLATED')
  })

  it('passes the query string verbatim, still encoded, without re-encoding anything', () => {
    const env = buildCgiEnvironment(input({ url: 'http://example.com/test.cgi/a%20b?q=%2e%2E+x&y=%ZZ&z="<>"#frag' }))
    expect(env.QUERY_STRING).toBe('q=%2e%2E+x&y=%ZZ&z="<>"')
    expect(env.REQUEST_URI).toBe('/test.cgi/a%20b?q=%2e%2E+x&y=%ZZ&z="<>"')
  })

  it('sets QUERY_STRING to the empty string when the URL has none or only a bare "?"', () => {
    expect(buildCgiEnvironment(input({ url: 'http://example.com/test.cgi' })).QUERY_STRING).toBe('')
    expect(buildCgiEnvironment(input({ url: 'http://example.com/test.cgi?' })).QUERY_STRING).toBe('')
    expect(buildCgiEnvironment(input({ url: 'http://example.com/test.cgi?' })).REQUEST_URI).toBe('/test.cgi?')
  })

  it('takes SERVER_NAME and SERVER_PORT from the URL unless given', () => {
    const https = buildCgiEnvironment(input({ url: 'https://[::1]/x', https: true }))
    expect(https).toMatchObject({ SERVER_NAME: '[::1]', SERVER_PORT: '443', HTTPS: 'on' })
    const ported = buildCgiEnvironment(input({ url: 'http://example.com:8080/x' }))
    expect(ported).toMatchObject({ SERVER_NAME: 'example.com', SERVER_PORT: '8080' })
    const given = buildCgiEnvironment(input({ serverName: 'gw.local', serverPort: 9000 }))
    expect(given).toMatchObject({ SERVER_NAME: 'gw.local', SERVER_PORT: '9000' })
  })

  it('sets SERVER_PROTOCOL from the request HTTP version', () => {
    expect(buildCgiEnvironment(input({ httpVersion: '1.1' })).SERVER_PROTOCOL).toBe('HTTP/1.1')
  })

  it('sets HTTPS=on only behind TLS', () => {
    expect(buildCgiEnvironment(input({ https: true })).HTTPS).toBe('on')
    expect(buildCgiEnvironment(input())).not.toHaveProperty('HTTPS')
  })

  it('joins repeated headers with ", " and repeated Cookie headers with "; "', () => {
    const env = buildCgiEnvironment(input({
      headers: ['Host', 'example.com', 'Cookie', 'nom=NOM', 'X-Foo', 'val1', 'cookie', 'yum=YUM', 'x-foo', 'val2'],
    }))
    expect(env.HTTP_COOKIE).toBe('nom=NOM; yum=YUM')
    expect(env.HTTP_X_FOO).toBe('val1, val2')
  })

  it('upper-cases header names and maps "-" to "_"', () => {
    const env = buildCgiEnvironment(input({ headers: ['accept-Language', 'en', 'X-Forwarded-For', '9.9.9.9'] }))
    expect(env.HTTP_ACCEPT_LANGUAGE).toBe('en')
    expect(env.HTTP_X_FORWARDED_FOR).toBe('9.9.9.9')
  })

  it('drops a Proxy header instead of setting HTTP_PROXY (httpoxy)', () => {
    const env = buildCgiEnvironment(input({ headers: ['X-Foo', 'bar', 'Proxy', 'http://evil.example:3128'] }))
    expect(env.HTTP_X_FOO).toBe('bar')
    expect(env).not.toHaveProperty('HTTP_PROXY')
  })

  it('drops headers whose names contain "_" so X_Foo cannot pose as X-Foo', () => {
    const env = buildCgiEnvironment(input({ headers: ['X_Foo', 'spoof', 'X-Bar', 'real', 'X_Bar', 'spoof'] }))
    expect(env).not.toHaveProperty('HTTP_X_FOO')
    expect(env.HTTP_X_BAR).toBe('real')
  })

  it('never passes Authorization or Proxy-Authorization unless the app opts in', () => {
    const headers = ['Authorization', 'Basic dTpw', 'Proxy-Authorization', 'Basic cDpx']
    const off = buildCgiEnvironment(input({ headers }))
    expect(off).not.toHaveProperty('HTTP_AUTHORIZATION')
    expect(off).not.toHaveProperty('HTTP_PROXY_AUTHORIZATION')
    const on = buildCgiEnvironment(input({ headers, passAuthorization: true }))
    expect(on.HTTP_AUTHORIZATION).toBe('Basic dTpw')
    expect(on.HTTP_PROXY_AUTHORIZATION).toBe('Basic cDpx')
  })

  it('sets CONTENT_LENGTH and CONTENT_TYPE for a POST form and never HTTP_CONTENT_*', () => {
    const env = buildCgiEnvironment(input({
      method: 'POST',
      url: 'http://example.com/test.cgi?a=b',
      headers: ['Host', 'example.com', 'Content-Type', 'application/x-www-form-urlencoded', 'Content-Length', '15'],
      bodyLength: 15,
    }))
    expect(env).toMatchObject({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '15', CONTENT_TYPE: 'application/x-www-form-urlencoded', QUERY_STRING: 'a=b' })
    expect(env).not.toHaveProperty('HTTP_CONTENT_LENGTH')
    expect(env).not.toHaveProperty('HTTP_CONTENT_TYPE')
  })

  it('gives a de-chunked body its exact CONTENT_LENGTH and no HTTP_TRANSFER_ENCODING', () => {
    const env = buildCgiEnvironment(input({ method: 'POST', headers: ['Transfer-Encoding', 'chunked', 'Content-Type', 'text/plain'], bodyLength: 7 }))
    expect(env.CONTENT_LENGTH).toBe('7')
    expect(env.CONTENT_TYPE).toBe('text/plain')
    expect(env).not.toHaveProperty('HTTP_TRANSFER_ENCODING')
  })

  it('sets neither CONTENT_LENGTH nor CONTENT_TYPE without a body', () => {
    for (const bodyLength of [null, 0]) {
      const env = buildCgiEnvironment(input({ headers: ['Content-Type', 'text/plain', 'Content-Length', '0'], bodyLength }))
      expect(env).not.toHaveProperty('CONTENT_LENGTH')
      expect(env).not.toHaveProperty('CONTENT_TYPE')
      expect(env).not.toHaveProperty('HTTP_CONTENT_TYPE')
    }
  })

  it('copies nothing from the gateway environment except PATH and the passEnv names', () => {
    const env = buildCgiEnvironment(input({ passEnv: ['TZ', 'MISSING'] }))
    expect(env.PATH).toBe('/usr/bin:/bin')
    expect(env.TZ).toBe('UTC')
    expect(env).not.toHaveProperty('SECRET_TOKEN')
    expect(env).not.toHaveProperty('HOME')
    expect(env).not.toHaveProperty('MISSING')
    expect(Object.values(env)).not.toContain('hunter2')
  })

  it('lets no passEnv name override a meta-variable', () => {
    const env = buildCgiEnvironment(input({ gatewayEnv: { REMOTE_ADDR: '6.6.6.6', GATEWAY_INTERFACE: 'x' }, passEnv: ['REMOTE_ADDR', 'GATEWAY_INTERFACE'] }))
    expect(env.REMOTE_ADDR).toBe('1.2.3.4')
    expect(env.GATEWAY_INTERFACE).toBe('CGI/1.1')
  })

  it('passes a Shellshock-style header value through as plain data', () => {
    const value = '() { :; }; echo pwned'
    const env = buildCgiEnvironment(input({ headers: ['User-Agent', value, 'X-Test', value] }))
    expect(env.HTTP_USER_AGENT).toBe(value)
    expect(env.HTTP_X_TEST).toBe(value)
  })

  it('drops header values holding a NUL and names that are not tokens', () => {
    const env = buildCgiEnvironment(input({ headers: ['X-Nul', 'a\0b', 'Bad Name', 'v', 'X-Ok', 'ok'] }))
    expect(env).not.toHaveProperty('HTTP_X_NUL')
    expect(Object.keys(env).filter(key => key.startsWith('HTTP_'))).toEqual(['HTTP_X_OK'])
  })

  it('returns string values only, all of them free of NUL', () => {
    const env = buildCgiEnvironment(input({ https: true, bodyLength: 3, passEnv: ['TZ'], headers: ['Content-Type', 'a/b'] }))
    for (const value of Object.values(env)) {
      expect(typeof value).toBe('string')
      expect(value.includes('\0')).toBe(false)
    }
  })
})
