# A throttling, logging HTTP proxy in front of a registry, for pull tests.
# usage: proxy.py PORT UPSTREAM_PORT LOGFILE MODE
#   MODE "slow": stream bodies at ~2 MB/s (so a test can stop the registry mid-blob)
#   MODE "cut-once": the first blob response larger than 1 MiB is cut after 1 MiB
#   MODE "plain": just forward
import http.client, http.server, json, socketserver, sys, threading, time

port, upstream, logfile, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
state = {"cut": False}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self): self.forward()
    def do_HEAD(self): self.forward()
    def forward(self):
        with lock:
            with open(logfile, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "headers": dict(self.headers)}) + "\n")
        try:
            c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            c.request(self.command, self.path, headers=hdrs)
            r = c.getresponse()
        except Exception:
            self.send_response(502); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        sent, limit = 0, None
        if mode == "cut-once" and "/blobs/" in self.path and int(r.getheader("Content-Length", "0")) > (1 << 20):
            with lock:
                if not state["cut"]:
                    state["cut"] = True; limit = 1 << 20
        while True:
            try:
                b = r.read(65536)
            except Exception:
                break
            if not b:
                break
            if limit is not None and sent + len(b) > limit:
                b = b[: limit - sent]
            try:
                self.wfile.write(b); self.wfile.flush()
            except Exception:
                break
            sent += len(b)
            if limit is not None and sent >= limit:
                break
            if mode == "slow":
                time.sleep(0.03)
        self.close_connection = True

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

S(("127.0.0.1", port), H).serve_forever()
