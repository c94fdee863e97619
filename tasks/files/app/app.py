#!/usr/bin/env python3
"""fabc demo app: a small HTTP service (Python stdlib only).

    app.py --config app.json

GET /health  -> 200 {"status": "ok", "version": TAG, "host": ADDR}
                (500 {"status": "broken", ...} for a broken release)
GET /        -> 200 a greeting

Restarts drop no requests: the listening socket has SO_REUSEPORT, so a new
process binds beside the old one and attaches a one-instruction classic
BPF program to the port's group that sends every new connection to the
newest socket. On SIGTERM the old process stops accepting, takes what is
already queued for it (nothing new arrives there), answers it and exits.
"""
import ctypes
import http.server
import json
import os
import signal
import socket
import struct
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


def load_config(path):
    with open(path) as f:
        return json.load(f)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fabc-app"
    protocol_version = "HTTP/1.0"

    def _send(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        cfg = self.server.cfg
        if self.path.split("?")[0] == cfg.get("health_path", "/health"):
            broken = self.server.broken
            body = json.dumps({"status": "broken" if broken else "ok",
                               "version": cfg["version"],
                               "host": cfg["listen"],
                               "name": cfg.get("name", "app")})
            self._send(500 if broken else 200, body)
        elif self.path == "/":
            self._send(200, "%s %s on %s\n" % (
                cfg.get("greeting", "hello from"), cfg["version"],
                cfg["listen"]), "text/plain")
        else:
            self._send(404, json.dumps({"error": "not found"}))

    def log_message(self, fmt, *args):
        if self.server.cfg.get("access_log"):
            sys.stderr.write("%s %s\n" % (self.address_string(),
                                          fmt % args))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def server_activate(self):
        super().server_activate()
        steer_new_connections_here(self.socket)


SO_ATTACH_REUSEPORT_CBPF = 51


def steer_new_connections_here(sock):
    """Attach `return 1` as the reuseport group's program: with the old
    process (index 0) and this one (index 1) both listening, new
    connections all come here; alone, the kernel ignores the out-of-range
    answer and picks the only socket."""
    insn = (ctypes.c_ubyte * 8).from_buffer_copy(
        struct.pack("=HBBI", 0x06, 0, 0, 1))          # BPF_RET|BPF_K, 1
    prog = struct.pack("HP", 1, ctypes.addressof(insn))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, prog)
    except OSError as e:  # old kernels: restarts may drop a request
        sys.stderr.write("app: SO_ATTACH_REUSEPORT_CBPF: %s\n" % e)


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "--config":
        sys.stderr.write("usage: app.py --config FILE\n")
        return 2
    cfg = load_config(sys.argv[2])
    srv = Server((cfg["listen"], int(cfg["port"])), Handler)
    srv.cfg = cfg
    srv.broken = os.path.exists(os.path.join(HERE, "BROKEN"))
    pidfile = cfg.get("pidfile")
    if pidfile:
        tmp = pidfile + ".%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, pidfile)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return: not in the handler
        threading.Thread(target=srv.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever(poll_interval=0.1)
    drain(srv)
    srv.server_close()   # waits for the request threads (block_on_close)
    return 0


def drain(srv):
    """Answer every connection already queued on this socket before
    closing it (the BPF program sends no new ones here)."""
    sock = srv.socket
    sock.setblocking(False)
    while True:
        try:
            conn, addr = sock.accept()
        except OSError:
            break
        conn.setblocking(True)
        srv.process_request(conn, addr)


if __name__ == "__main__":
    sys.exit(main())
