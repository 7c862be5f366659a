#!/usr/bin/env perl
# Prints the whole environment the gateway gave this script, one NAME=value per line: the RFC 3875
# meta-variables (REQUEST_METHOD, QUERY_STRING, PATH_INFO, …), the request headers as HTTP_*, PATH
# and the app's passEnv names. Nothing else of the gateway's environment reaches a script.
use strict;
use warnings;

print "Content-Type: text/plain; charset=utf-8\r\n\r\n";
print "$_=$ENV{$_}\n" for sort keys %ENV;
