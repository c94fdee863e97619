"""fabc.http — HTTP checks from tasks (libcurl multi in C).

    from fabc import http
    r = http.get("http://10.0.0.5/health", expect=200)
    results = http.check_many(urls, expect=200)   # concurrent
    bad = {u: e for u, e in results.items() if isinstance(e, Exception)}

A status other than `expect` raises (or, in check_many, maps to)
fabc.CloudError with .status, .url and .method; a refused connection is
fabc.ConnectionError, a timeout fabc.TimeoutError.

TLS: the server's certificate and name are verified against the system's
CA certificates, or only against `cacert=` (a PEM file) when given;
`insecure=True` verifies nothing. `cert=` and `key=` present a client
certificate (PEM files; `key` may be left out when `cert` holds both).
A TLS failure is fabc.ConnectionError whose message says "TLS failure"
and gives curl's words, e.g.

    r = http.get("https://10.0.0.5/health", cacert="/etc/ssl/site-ca.pem")
"""
import json as _json

import _fabc

__all__ = ["Response", "get", "check_many"]


class Response(object):
    """status, body (text), content (bytes), headers (lower-case dict),
    elapsed (seconds), url."""

    __slots__ = ("url", "status", "content", "headers", "elapsed")

    def __init__(self, url, status, content, headers, elapsed):
        self.url = url
        self.status = status
        self.content = content
        self.headers = headers
        self.elapsed = elapsed

    @property
    def body(self):
        return self.content.decode("utf-8", "replace")

    @property
    def ok(self):
        return 200 <= self.status < 400

    def json(self):
        return _json.loads(self.content)

    def __repr__(self):
        return "<Response %s %d %.3fs>" % (self.url, self.status,
                                           self.elapsed)


def _headers(text):
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _build(url, item):
    if isinstance(item, BaseException):
        return item
    status, content, headers, elapsed = item
    return Response(url, status, content, _headers(headers), elapsed)


def check_many(urls, *, expect=200, timeout=10, insecure=False,
               cacert=None, cert=None, key=None):
    """GET every url at once. Returns {url: Response or exception}.
    cacert, cert, key: paths (str or os.PathLike), see the module doc."""
    urls = list(urls)
    items = _fabc.http_check_many(urls, expect=expect or 0,
                                  timeout=float(timeout), insecure=insecure,
                                  cacert=cacert, cert=cert, key=key)
    return {u: _build(u, it) for u, it in zip(urls, items)}


def get(url, *, timeout=10, expect=None, insecure=False, cacert=None,
        cert=None, key=None):
    """One GET. Raises on a transport failure (a TLS one included), or
    when `expect` is given and the status differs."""
    item = _fabc.http_check_many([url], expect=expect or 0,
                                 timeout=float(timeout),
                                 insecure=insecure, cacert=cacert,
                                 cert=cert, key=key)[0]
    if isinstance(item, BaseException):
        raise item
    return _build(url, item)
