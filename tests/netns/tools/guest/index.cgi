#!/bin/sh
# The guest's answer on tcp/80 (busybox httpd runs /cgi-bin/index.cgi for "/").
printf 'Content-Type: text/plain\r\n\r\n'
echo "guest $(cat /etc/guest-name) seen-from $REMOTE_ADDR"
