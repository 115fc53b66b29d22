"""A small HTTP proxy that injects faults in front of an S3 server (moto) on 127.0.0.1.

Point boto3 at :attr:`FaultProxy.url` instead of the server. Every request is forwarded
unchanged, except those whose path (``/bucket/key``, path-style addressing) contains a chosen
substring:

- ``proxy.always[substring] = "403"`` (or ``"503"``, ``"drop"``): every matching request gets
  that answer (``drop``: the connection is closed without a response);
- ``proxy.faults[substring] = ["503", "drop"]``: the next matching requests get those answers,
  one each, then requests go through.

``proxy.hits`` counts the faults served per substring; ``proxy.requests`` lists
``(method, path)`` of every request.
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te",
        "upgrade"}
_ERROR_BODY = {
    "403": (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
            b"<Message>Access Denied</Message></Error>"),
    "503": (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ServiceUnavailable</Code>"
            b"<Message>Please reduce your request rate.</Message></Error>"),
}


class FaultProxy:
    """The proxy, running in a thread while used as a context manager."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.always: dict[str, str] = {}
        self.faults: dict[str, list[str]] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self) -> None:
                body = self._body()
                fault = proxy.fault_for(self.command, self.path)
                if fault == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if fault is not None:
                    payload = b"" if self.command == "HEAD" else _ERROR_BODY[fault]
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_ERROR_BODY[fault])))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname,
                                                  proxy.upstream.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                        headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in _HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    length = resp.getheader("Content-Length")
                    self.send_header("Content-Length", length if self.command == "HEAD"
                                     and length is not None else str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fault_for(self, method: str, path: str) -> str | None:
        """The fault to serve for this request, if any (and count it)."""
        with self.lock:
            self.requests.append((method, path))
            where = path.split("?", 1)[0]
            for sub, fault in self.always.items():
                if sub in where:
                    self.hits[sub] = self.hits.get(sub, 0) + 1
                    return fault
            for sub, queue in self.faults.items():
                if sub in where and queue:
                    self.hits[sub] = self.hits.get(sub, 0) + 1
                    return queue.pop(0)
        return None

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
