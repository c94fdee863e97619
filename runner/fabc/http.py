"""fabc.http — HTTP checks from tasks (libcurl multi in C).

    from fabc import http
    r = http.get("http://10.0.0.5/health", expect=200)
    results = http.check_many(urls, expect=200)   # concurrent
    bad = {u: e for u, e in results.items() if isinstance(e, Exception)}

A status other than `expect` raises (or, in check_many, maps to)
fabc.CloudError with .status, .url and .method; a refused connection is
fabc.ConnectionError, a timeout fabc.TimeoutError.
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


def check_many(urls, *, expect=200, timeout=10, insecure=False):
    """GET every url at once. Returns {url: Response or exception}."""
    urls = list(urls)
    items = _fabc.http_check_many(urls, expect=expect or 0,
                                  timeout=float(timeout), insecure=insecure)
    return {u: _build(u, it) for u, it in zip(urls, items)}


def get(url, *, timeout=10, expect=None, insecure=False):
    """One GET. Raises on a transport failure, or when `expect` is given
    and the status differs."""
    item = _fabc.http_check_many([url], expect=expect or 0,
                                 timeout=float(timeout),
                                 insecure=insecure)[0]
    if isinstance(item, BaseException):
        raise item
    return _build(url, item)
