"""fabc.http against a real local HTTP server (Python's http.server, not
an OpenStack API): concurrency of check_many, timeouts, unexpected
statuses, redirects."""
import http.server
import threading
import time

import pytest


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/slow/"):
            time.sleep(1.0)
            self.reply(200, "slow %s" % self.path)
        elif self.path == "/unavailable":
            self.reply(503, "<html><body><h1>503</h1>down for "
                            "maintenance</body></html>")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/target":
            self.reply(200, "arrived")
        else:
            self.reply(404, "no")

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("X-Fabc-Test", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_check_many_is_concurrent_and_errors_are_typed(run_cloud, server):
    p, res = run_cloud("http_many:%s,20" % server, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    r = res[0]
    # 20 requests of 1 s each, all at once
    assert r["elapsed"] < 5, r["elapsed"]
    assert r["statuses"] == [200] and r["bodies"] == 20
    assert r["timeout"]["type"] == "TimeoutError"
    st = r["status"]
    assert st["type"] == "CloudError" and st["status"] == 503
    assert "down for maintenance" in st["message"]
    assert st["url"] == server + "/unavailable" and st["method"] == "GET"
    assert r["redirect"] == {"status": 200, "body": "arrived",
                             "header": "yes"}
