#!/usr/bin/python3
"""A minimal FTP server and client, and a TFTP server, for the connection-tracking helper tests.

  transfer.py serve PORT NAME       FTP: serve "hello.txt": "hello over ftp from NAME"
  transfer.py get HOST PORT MODE    FTP: fetch hello.txt (MODE active: PORT; passive: PASV)
  transfer.py tftp-serve PORT NAME  TFTP: serve any file read as "hello over tftp from NAME"

The TFTP server answers each read request from a new port, as the protocol says: the reply is
not part of the request's connection, and only the gateway's TFTP helper lets it in.

The server answers PASV with the address of its end of the control connection, as real servers
do, and refuses a passive data connection from another address than the control connection's (behind NAT that is a private address, which only the gateway's FTP helper can rewrite), and
opens active data connections from port 20 when it may. The client trusts the PASV address, as
classic clients do, so a gateway that does not rewrite it fails the test.
"""
import ftplib
import socket
import socketserver
import sys
import threading


class Session(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def data_connection(self):
        if self.passive is not None:
            conn, peer = self.passive.accept()
            self.passive.close()
            self.passive = None
            # As vsftpd (pasv_promiscuous=NO) and most servers: the data connection must come
            # from the control connection's address, or it is someone else's.
            if peer[0] != self.client_address[0]:
                conn.close()
                raise OSError("data connection from %s, control from %s" %
                              (peer[0], self.client_address[0]))
            return conn
        if self.active is not None:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.request.getsockname()[0], 20))
            except OSError:
                pass
            s.settimeout(5)
            s.connect(self.active)
            return s
        return None

    def handle(self):
        self.passive = None
        self.active = None
        self.reply("220 vmgw test ftp")
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "USER":
                self.reply("331 password please")
            elif verb == "PASS":
                self.reply("230 logged in")
            elif verb in ("TYPE", "MODE", "STRU"):
                self.reply("200 ok")
            elif verb == "PWD":
                self.reply('257 "/"')
            elif verb == "SYST":
                self.reply("215 UNIX Type: L8")
            elif verb == "PASV":
                self.passive = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.passive.bind((self.request.getsockname()[0], 0))
                self.passive.listen(1)
                self.passive.settimeout(5)
                addr, port = self.passive.getsockname()
                self.reply("227 Entering Passive Mode (%s,%d,%d)" %
                           (addr.replace(".", ","), port >> 8, port & 255))
            elif verb == "PORT":
                parts = [int(x) for x in arg.split(",")]
                self.active = (".".join(map(str, parts[:4])), parts[4] * 256 + parts[5])
                self.reply("200 PORT ok")
            elif verb == "RETR":
                self.reply("150 opening data connection")
                try:
                    conn = self.data_connection()
                    conn.sendall(("hello over ftp from %s\n" % self.server.name).encode())
                    conn.close()
                    self.reply("226 done")
                except OSError as e:
                    self.reply("425 no data connection: %s" % e)
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


IP_PKTINFO = 8  # <linux/in.h>; struct in_pktinfo { int ifindex; in_addr spec_dst, addr; }


def tftp_send(local, client, name):
    # From the address the request was sent to, as real servers answer: a host with several
    # addresses would otherwise answer from the one its route picks.
    data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    data.bind((local, 0))
    data.settimeout(3)
    payload = ("hello over tftp from %s\n" % name).encode()
    data.sendto(b"\x00\x03\x00\x01" + payload, client)  # DATA block 1, short: the last
    try:
        data.recvfrom(1500)  # its ACK
    except OSError:
        pass
    data.close()


def tftp_serve(port, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.bind(("0.0.0.0", port))
    while True:
        packet, ancillary, _, client = s.recvmsg(1500, socket.CMSG_SPACE(12))
        if packet[:2] != b"\x00\x01":  # RRQ only
            continue
        local = "0.0.0.0"
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                local = socket.inet_ntoa(value[8:12])
        threading.Thread(target=tftp_send, args=(local, client, name), daemon=True).start()


def main():
    if sys.argv[1] == "tftp-serve":
        tftp_serve(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "serve":
        server = Server(("0.0.0.0", int(sys.argv[2])), Session)
        server.name = sys.argv[3]
        server.serve_forever()
    elif sys.argv[1] == "get":
        host, port, mode = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        ftp = ftplib.FTP(timeout=5)
        ftp.trust_server_pasv_ipv4_address = True
        ftp.connect(host, port)
        ftp.login("anonymous", "test@")
        ftp.set_pasv(mode == "passive")
        chunks = []
        ftp.retrbinary("RETR hello.txt", chunks.append)
        ftp.quit()
        sys.stdout.write(b"".join(chunks).decode())
    else:
        sys.exit("usage: transfer.py serve PORT NAME | get HOST PORT active|passive | "
                 "tftp-serve PORT NAME")


if __name__ == "__main__":
    main()
