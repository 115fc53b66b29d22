"""A small FDSN-compatible web service on 127.0.0.1 for the tests: ``/fdsnws/dataselect/1/query``
(miniSEED cut from an obspy Stream) and ``/fdsnws/station/1/query`` (StationXML from an obspy
Inventory, levels station/channel/response), answering 204 when nothing matches, as the FDSN
web-service specification says.

Faults on request: :attr:`FdsnServer.faults` maps a target (``"station"``, ``"dataselect"`` or a
channel id ``NET.STA.LOC.CHA``) to a list of actions used one per matching request (then normal
service); :attr:`FdsnServer.always` to one action used every time. Actions: ``"429"`` (Too Many
Requests, ``Retry-After: 0``), any other status such as ``"503"`` or ``"400"``, ``"drop"`` (the
connection is closed before any answer), ``"truncate"`` (a 200 whose body stops half-way, the
connection then closed). Every request is recorded in :attr:`FdsnServer.requests` with its
User-Agent; with :attr:`FdsnServer.delay_s` each answer waits that long, and
:attr:`FdsnServer.max_in_flight` is the most requests that were ever waiting at once.
"""

from __future__ import annotations

import fnmatch
import io
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from obspy import Inventory, Stream, UTCDateTime


@dataclass
class Request:
    service: str
    params: dict[str, str]
    user_agent: str
    answer: str = ""


def _codes_match(value: str, patterns: str, empty: bool = False) -> bool:
    for p in patterns.split(","):
        if empty and p == "--":
            p = ""
        if fnmatch.fnmatchcase(value, p):
            return True
    return False


def _param(params: dict[str, str], *names: str, default: str = "*") -> str:
    for n in names:
        if n in params:
            return params[n]
    return default


@dataclass
class FdsnServer:
    stream: Stream
    inventory: Inventory
    faults: dict[str, list[str]] = field(default_factory=dict)
    always: dict[str, str] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    delay_s: float = 0.0
    max_in_flight: int = 0
    _in_flight: int = 0
    _server: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FdsnServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # the name http.server calls
                outer._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FdsnServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, service: str, answer: str | None = None) -> int:
        """Requests to ``service`` (optionally with the given answer)."""
        return sum(r.service == service and (answer is None or r.answer == answer)
                   for r in self.requests)

    # ------------------------------------------------------------------ request handling
    def _fault(self, targets: list[str]) -> str | None:
        with self._lock:
            for t in targets:
                if t in self.always:
                    return self.always[t]
                if self.faults.get(t):
                    return self.faults[t].pop(0)
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        # counted while nothing is answered yet, so a client cannot have moved on
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        time.sleep(self.delay_s)
        with self._lock:
            self._in_flight -= 1
        self._answer(h)

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        service = url.path.strip("/").split("/")[1] if url.path.startswith("/fdsnws/") else ""
        req = Request(service, params, h.headers.get("User-Agent", ""))
        with self._lock:
            self.requests.append(req)
        targets = [service]
        if service == "dataselect":
            loc = _param(params, "location", "loc")
            targets.insert(0, ".".join([_param(params, "network", "net"),
                                        _param(params, "station", "sta"),
                                        "" if loc == "--" else loc,
                                        _param(params, "channel", "cha")]))
        action = self._fault(targets)
        body, ctype = b"", ""
        if action in (None, "truncate"):
            if service == "dataselect":
                body, ctype = self._dataselect(params), "application/vnd.fdsn.mseed"
            elif service == "station":
                body, ctype = self._station(params), "application/xml"
            else:
                action = "404"
        req.answer = action or ("204" if not body else "200")
        if action == "drop":
            h.close_connection = True
            return
        if action is not None and action.isdigit():
            text = f"Error {action}: injected by the test server\n".encode()
            h.send_response(int(action))
            if action == "429":
                h.send_header("Retry-After", "0")
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(text)))
            h.end_headers()
            h.wfile.write(text)
            return
        if not body:
            h.send_response(204)
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if action == "truncate":
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(body)

    def _dataselect(self, params: dict[str, str]) -> bytes:
        t0 = UTCDateTime(_param(params, "starttime", "start"))
        t1 = UTCDateTime(_param(params, "endtime", "end"))
        st = Stream([tr for tr in self.stream if self._trace_matches(tr.stats, params)])
        st = st.slice(t0, t1, nearest_sample=False)
        st.traces = [tr for tr in st if tr.stats.npts > 0]
        if not st:
            return b""
        buf = io.BytesIO()
        st.write(buf, format="MSEED")
        return buf.getvalue()

    @staticmethod
    def _trace_matches(s: Any, params: dict[str, str]) -> bool:
        return (_codes_match(s.network, _param(params, "network", "net"))
                and _codes_match(s.station, _param(params, "station", "sta"))
                and _codes_match(s.location, _param(params, "location", "loc"), empty=True)
                and _codes_match(s.channel, _param(params, "channel", "cha")))

    def _station(self, params: dict[str, str]) -> bytes:
        t0 = UTCDateTime(_param(params, "starttime", "start", default="1900-01-01"))
        t1 = UTCDateTime(_param(params, "endtime", "end", default="2100-01-01"))
        level = params.get("level", "station")

        def active(epoch: Any) -> bool:
            return ((epoch.start_date is None or epoch.start_date < t1)
                    and (epoch.end_date is None or epoch.end_date > t0))

        inv = self.inventory.copy()
        for net in inv:
            for sta in net:
                sta.channels = [
                    c for c in sta if active(c)
                    and _codes_match(c.location_code, _param(params, "location", "loc"),
                                     empty=True)
                    and _codes_match(c.code, _param(params, "channel", "cha"))]
                for c in sta.channels:
                    if level != "response":
                        c.response = None
            net.stations = [s for s in net if active(s) and s.channels
                            and _codes_match(s.code, _param(params, "station", "sta"))]
            if level == "station":
                for s in net.stations:
                    s.channels = []
        inv.networks = [n for n in inv if n.stations
                        and _codes_match(n.code, _param(params, "network", "net"))]
        if not inv.networks:
            return b""
        buf = io.BytesIO()
        inv.write(buf, format="STATIONXML")
        return buf.getvalue()
