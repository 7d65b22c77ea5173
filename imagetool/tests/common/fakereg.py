# A scripted registry for attack tests: serves exactly the bytes a test asks
# for and logs every request with its headers.
# usage: fakereg.py PORT ROUTES.json LOGFILE
# ROUTES.json: {"auth": "user:pass" | null   (HTTP Basic on every path),
#               "bearer": {"creds": "user:pass" | null, "token": T} | null
#                  (token flow: /token hands out T, other paths need "Bearer T"),
#               "routes": {"/v2/x/manifests/t": {"status": 200, "headers": {..},
#                           "body_file": PATH | "body": STR,
#                           "endless": true  (body, then spaces until the client hangs up),
#                           "content_length": N (declared, overrides),
#                           "fail_first": N (answer 503 to the first N requests)}}}
import base64, http.server, json, socketserver, sys, threading

port, routes_file, logfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = json.load(open(routes_file))
lock = threading.Lock()

def log(rec):
    with lock:
        with open(logfile, "a") as f:
            f.write(json.dumps(rec) + "\n")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a): pass
    def do_HEAD(self): self.handle_req(head=True)
    def do_GET(self): self.handle_req(head=False)
    def handle_req(self, head):
        rec = {"method": self.command, "path": self.path, "headers": dict(self.headers), "sent": 0}
        bearer = cfg.get("bearer")
        if bearer:
            if self.path.startswith("/token"):
                creds = bearer.get("creds")
                ok = creds is None or self.headers.get("Authorization") == \
                    "Basic " + base64.b64encode(creds.encode()).decode()
                log(rec)
                body = json.dumps({"token": bearer["token"]}).encode() if ok else b""
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.headers.get("Authorization") != "Bearer " + bearer["token"]:
                log(rec)
                self.send_response(401)
                self.send_header("WWW-Authenticate",
                    'Bearer realm="http://127.0.0.1:%d/token",service="fake-registry",scope="repository:x:pull"' % port)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        auth = cfg.get("auth")
        if auth:
            want = "Basic " + base64.b64encode(auth.encode()).decode()
            if self.headers.get("Authorization") != want:
                log(rec)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="fake"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        path = self.path.split("?")[0]
        if path == "/v2/" and path not in cfg["routes"]:
            r = {"status": 200, "body": "{}"}
        else:
            r = cfg["routes"].get(path)
        if r is None:
            log(rec)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with lock:
            failing = r.get("fail_first", 0) > 0
            if failing:
                r["fail_first"] -= 1
        if failing:
            log(rec)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = open(r["body_file"], "rb").read() if "body_file" in r else r.get("body", "").encode()
        self.send_response(r.get("status", 200))
        for k, v in r.get("headers", {}).items():
            self.send_header(k, v)
        if "content_length" in r:
            self.send_header("Content-Length", str(r["content_length"]))
        elif not r.get("endless"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            log(rec); return
        try:
            self.wfile.write(body); rec["sent"] += len(body)
            if r.get("endless"):
                chunk = b" " * 65536
                while rec["sent"] < (1 << 31):
                    self.wfile.write(chunk); rec["sent"] += len(chunk)
        except Exception:
            pass
        log(rec)

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

S(("127.0.0.1", port), H).serve_forever()
