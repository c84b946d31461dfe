#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the S3 tests, on loopback.

    s3proxy.py UPSTREAM_HOST:PORT PORT_FILE LOG_FILE [--faults LIST] [--rate P] [--seed N]

Listens on 127.0.0.1 (a free port, written to PORT_FILE), forwards each
request to the S3 server unchanged (the Host header too, so SigV4 signatures
stay valid) and, with probability P per request, injects one fault drawn
from LIST (comma-separated):

  drop_before  close the connection without forwarding the request
  drop_after   forward it (the server applies it) and close without answering:
               the client cannot know whether its write happened
  status       answer 500, 503 or 429 without forwarding
  delay        wait 0.2 to 1.5 s, then forward
  truncate     forward, then send the headers and half of the body, and close
  reorder      (listings only, always when listed) shuffle the entries
  region       answer every request 301 PermanentRedirect from region eu-west-9
  (none)       with --faults "" (and --tls CERT KEY): a plain, or an https, proxy
  always500    answer every request 500

Each injected fault is appended to LOG_FILE as one line "KIND METHOD PATH".
"""
import argparse
import http.client
import random
import re
import socket
import socketserver
import sys
import threading
import time

args = None
rng = None
rng_lock = threading.Lock()
log_lock = threading.Lock()


def log(kind, method, path):
    with log_lock:
        with open(args.log, "a") as f:
            f.write("%s %s %s\n" % (kind, method, path))


def draw():
    with rng_lock:
        if rng.random() >= args.rate:
            return None
        return rng.choice([f for f in args.faults if f != "reorder"] or [None])


def read_request(rfile):
    line = rfile.readline(65537)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = rfile.readline(65537).decode("latin-1")
        if h in ("\r\n", "\n", ""):
            break
        name, value = h.rstrip("\r\n").split(":", 1)
        headers.append((name, value.strip()))
    return method, path, headers


def header(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


class Handler(socketserver.StreamRequestHandler):
    def send(self, status, reason, headers, body, head=False, cut=False):
        out = "HTTP/1.1 %d %s\r\n" % (status, reason)
        for n, v in headers:
            out += "%s: %s\r\n" % (n, v)
        self.wfile.write(out.encode("latin-1") + b"\r\n")
        if not head:
            self.wfile.write(body[: len(body) // 2] if cut else body)
        self.wfile.flush()

    def error(self, status, code):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected by s3proxy"
                "</Message></Error>" % code).encode()
        self.send(status, code, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body)

    def handle(self):
        try:
            self.serve()
        except (ConnectionError, socket.timeout, OSError):
            pass  # the client went away (or a fault closed the connection)

    def serve(self):
        while True:
            req = read_request(self.rfile)
            if req is None:
                return
            method, path, headers = req
            if (header(headers, "expect") or "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.wfile.flush()
            n = int(header(headers, "content-length") or 0)
            body = self.rfile.read(n) if n else b""
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]

            if "region" in args.faults:
                log("region", method, path)
                b = b"<Error><Code>PermanentRedirect</Code><Message>use the region's endpoint</Message></Error>"
                self.send(301, "Moved Permanently", [("x-amz-bucket-region", "eu-west-9"),
                                                     ("Content-Length", str(len(b)))], b, head=method == "HEAD")
                continue
            if "always500" in args.faults:
                log("always500", method, path)
                self.error(500, "InternalError")
                continue
            fault = draw()
            if fault == "drop_before":
                log(fault, method, path)
                return
            if fault == "status":
                with rng_lock:
                    status, code = rng.choice([(500, "InternalError"), (503, "SlowDown"), (429, "TooManyRequests")])
                log(fault, method, path)
                self.error(status, code)
                continue
            if fault == "delay":
                log(fault, method, path)
                with rng_lock:
                    pause = rng.uniform(0.2, 1.5)
                time.sleep(pause)

            up = http.client.HTTPConnection(args.upstream, timeout=60)
            up.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                up.putheader(k, v)
            up.endheaders(body if body else None)
            resp = up.getresponse()
            data = resp.read()
            up.close()
            if fault == "drop_after":
                log(fault, method, path)
                return
            out_headers = [(k, v) for k, v in resp.getheaders()
                           if k.lower() not in ("transfer-encoding", "content-length", "connection")]
            if "reorder" in args.faults and method == "GET" and "list-type=2" in path and b"<Contents>" in data:
                text = data.decode()
                entries = re.findall(r"<Contents>.*?</Contents>", text, flags=re.S)
                if len(entries) > 1:
                    shuffled = entries[:]
                    with rng_lock:
                        rng.shuffle(shuffled)
                    head, rest = text.split(entries[0], 1)
                    tail = rest.rsplit(entries[-1], 1)[1] if len(entries) > 1 else rest
                    text = head + "".join(shuffled) + tail
                    data = text.encode()
                    log("reorder", method, path)
            length = resp.getheader("content-length") if method == "HEAD" else str(len(data))
            if length is not None:
                out_headers.append(("Content-Length", length))
            cut = fault == "truncate" and method != "HEAD" and len(data) > 1
            if cut:
                log(fault, method, path)
            self.send(resp.status, resp.reason, out_headers, data, head=method == "HEAD", cut=cut)
            if cut:
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global args, rng
    p = argparse.ArgumentParser()
    p.add_argument("upstream")
    p.add_argument("port_file")
    p.add_argument("log")
    p.add_argument("--faults", default="drop_before,drop_after,status,delay,truncate,reorder")
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https with this certificate and key")
    args = p.parse_args()
    args.faults = [f for f in args.faults.split(",") if f]
    rng = random.Random(args.seed)
    srv = Server(("127.0.0.1", 0), Handler)
    if args.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
