#!/bin/sh
# The smallest CGI/1.1 script: header lines, a blank line, then the body (RFC 3875 §6).
# Served by a `cgi` app: { route: '/cgi-bin', cgi: './apps/cgi-bin' } → GET /cgi-bin/hello.sh/you
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
# PATH_INFO is what follows the script's name in the URL ('' when nothing does).
name=${PATH_INFO#/}
printf 'Hello, %s!\n' "${name:-world}"
