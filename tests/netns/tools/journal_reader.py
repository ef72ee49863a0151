#!/usr/bin/python3
"""Stands in for journald's native socket in tests/netns/test_daemon_journal.sh: binds the
AF_UNIX datagram socket given (in a private mount namespace, over /run/systemd/journal) and
writes each datagram received as one JSON object of its fields on stdout.

The native protocol (systemd's "Native Journal Protocol"): "KEY=value\\n" per field, or
"KEY\\n", a 64-bit little endian length, the value and "\\n" for a value holding newlines.
A datagram that does not parse is written as {"_unparsed": "..."} so the test sees it.
"""
import json
import os
import socket
import struct
import sys


def fields(data):
    out = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            value = data[nl + 9:nl + 9 + size]
            if data[nl + 9 + size:nl + 10 + size] != b"\n":
                raise ValueError("binary field not followed by a newline")
            i = nl + 10 + size
        out[key.decode()] = value.decode(errors="replace")
    return out


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    print(json.dumps({"_ready": True}), flush=True)
    while True:
        data = s.recv(1 << 20)
        try:
            entry = fields(data)
        except (ValueError, struct.error) as e:
            entry = {"_unparsed": data.decode(errors="replace"), "_error": str(e)}
        print(json.dumps(entry), flush=True)


if __name__ == "__main__":
    main()
