#!/usr/bin/env python3
# Echoes a POSTed form (application/x-www-form-urlencoded) back as text; GET shows the form.
# The body arrives on stdin: read exactly CONTENT_LENGTH bytes (RFC 3875 §4.2), no more.
import html
import os
import sys
import urllib.parse

if os.environ.get('REQUEST_METHOD') == 'POST':
    length = int(os.environ.get('CONTENT_LENGTH') or 0)
    fields = urllib.parse.parse_qsl(sys.stdin.buffer.read(length).decode('utf-8'), keep_blank_values=True)
    sys.stdout.write('Content-Type: text/plain; charset=utf-8\r\n\r\n')
    for name, value in fields:
        sys.stdout.write(f'{name}={value}\n')
else:
    action = html.escape(os.environ.get('SCRIPT_NAME', ''), quote=True)
    sys.stdout.write('Content-Type: text/html; charset=utf-8\r\n\r\n')
    sys.stdout.write(f'<form method="post" action="{action}"><input name="name"><button>Send</button></form>\n')
