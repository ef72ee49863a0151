#!/bin/sh
# The guest's answer on tcp/80 (busybox httpd runs /cgi-bin/index.cgi for "/"). httpd listens on
# IPv6 too and gives an IPv4 client as "[::ffff:A.B.C.D]": the plain address is printed.
client=${REMOTE_ADDR#[}
client=${client%]}
client=${client#::ffff:}
printf 'Content-Type: text/plain\r\n\r\n'
echo "guest $(cat /etc/guest-name) seen-from $client"
