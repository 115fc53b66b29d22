"""FDSN web services (``data.layout = "fdsn"``): dataselect for waveforms, station for metadata.

``data.source`` is a service root (``https://service.earthscope.org``; the standard paths
``/fdsnws/station/1/query`` and ``/fdsnws/dataselect/1/query`` are appended) or the name of a
data centre that obspy knows (``EARTHSCOPE``, ``GEOFON``, ``NCEDC``, ``SCEDC``, ``RESIF``, ...;
see ``obspy.clients.fdsn.header.URL_MAPPINGS``).

- **Metadata**: one station query (``level=response``) for the selection's network, station,
  location and channel patterns over ``[data.start, data.end]``. The answer is cached in the output
  store (``metadata/fdsn/<hash of the query>.xml``), so the children of an array job and every
  re-run reuse it instead of asking again; delete it to refresh.
- **Listing** a day: the channels whose epoch in that metadata overlaps the day. Each channel-day
  is one "file": a day-long dataselect request, downloaded to scratch as miniSEED under the key
  ``fdsn/NET.STA.LOC.CHA.D.YYYY.DDD``.
- **Fetching**: at most ``data.fdsn_connections`` requests at a time, each with a timeout of
  ``data.fdsn_timeout_s``. Throttling and transient failures (HTTP 429, 500, 502, 503, 504, dropped
  or truncated connections, timeouts) are retried up to ``data.fdsn_retries`` times with jittered
  exponential back-off from ``data.fdsn_backoff_s`` (at least the server's ``Retry-After``).
  HTTP 204 and 404 mean the centre has no data for that channel-day (a data reason, the day can
  be complete); anything else that still fails makes the day *failed*.
- Every request names c4 in its ``User-Agent`` (:data:`USER_AGENT`), as data centres ask.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import io
import logging
import os
import platform
import random
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from c4.config import DataConfig
from c4.objstore import Location, ObjectInfo
from c4.sources.base import (
    Archive,
    ChannelId,
    DayListing,
    FetchReport,
    matches_selection,
)
from c4.sources.sds import parse_sds_name

log = logging.getLogger("c4.sources")

__all__ = ["USER_AGENT", "FdsnArchive", "FdsnClient", "FdsnError", "fdsn_base_url"]


def _version() -> str:
    import c4

    return c4.__version__


USER_AGENT = (f"c4/{_version()} (ambient-noise cross-correlation; Python "
              f"{platform.python_version()})")
"""User-Agent of every request: c4, its version, what it does."""

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses retried with back-off (429: Too Many Requests, 503: Service Unavailable)."""
NO_DATA_STATUS = frozenset({204, 404})
"""HTTP statuses that mean "no data matches" in the FDSN web-service specification."""
MAX_DELAY_S = 300.0
"""Longest wait between two attempts, s (a larger Retry-After is cut to this)."""


class FdsnError(RuntimeError):
    """A request failed for good (after retries, or with a status that is not retried)."""


def fdsn_base_url(source: str) -> str:
    """Service root of ``source``: an ``http(s)://`` URL as given (no trailing slash) or a data
    centre name from obspy's table; ``ValueError`` naming the known ones otherwise."""
    if source.startswith(("http://", "https://")):
        return source.rstrip("/")
    from obspy.clients.fdsn.header import URL_MAPPINGS

    for name, url in URL_MAPPINGS.items():
        if name.upper() == source.upper():
            return str(url).rstrip("/")
    raise ValueError(f"data.source: {source!r} is neither an http(s):// URL nor a data centre "
                     f"name; known: {', '.join(sorted(URL_MAPPINGS))}")


def _retry_after(headers: Any) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:  # an HTTP date: not worth parsing, the back-off applies
        return 0.0


class FdsnClient:
    """HTTP GETs to one FDSN service with retries, back-off, a concurrency limit and c4's
    User-Agent."""

    def __init__(self, base_url: str, *, connections: int = 4, retries: int = 5,
                 backoff_s: float = 1.0, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(connections)

    def url(self, service: str, params: dict[str, str]) -> str:
        """``<base>/fdsnws/<service>/1/query?<params>``."""
        query = urllib.parse.urlencode(params, safe="*?,:-")
        return f"{self.base_url}/fdsnws/{service}/1/query?{query}"

    def get(self, url: str, dest: Path) -> bool:
        """Download ``url`` to ``dest`` (atomically); True when data came back, False for "no
        data" (204/404, or an empty 200). Raises :class:`FdsnError` when it fails for good."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        for attempt in range(self.retries + 1):
            wait, problem, expected = 0.0, "", None
            try:
                with self._slots:
                    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
                    with urllib.request.urlopen(request, timeout=self.timeout_s) as resp, \
                            open(tmp, "wb") as f:
                        if resp.status in NO_DATA_STATUS:
                            tmp.unlink(missing_ok=True)
                            return False
                        shutil.copyfileobj(resp, f, 1 << 20)
                        expected = resp.headers.get("Content-Length")
                # read(n) ends quietly at a dropped connection; only the length tells
                if expected is not None and tmp.stat().st_size != int(expected):
                    raise http.client.IncompleteRead(b"", int(expected) - tmp.stat().st_size)
                if tmp.stat().st_size == 0:
                    tmp.unlink()
                    return False
                os.replace(tmp, dest)
                return True
            except urllib.error.HTTPError as exc:
                if exc.code in NO_DATA_STATUS:
                    tmp.unlink(missing_ok=True)
                    return False
                try:
                    detail = exc.read(300).decode("utf-8", "replace").strip().splitlines()
                except (OSError, http.client.HTTPException):
                    detail = []
                problem = f"HTTP {exc.code} {exc.reason}" + (f": {detail[0]}" if detail else "")
                if exc.code not in RETRY_STATUS:
                    tmp.unlink(missing_ok=True)
                    raise FdsnError(f"{url}: {problem}") from None
                wait = _retry_after(exc.headers)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                problem = f"{type(exc).__name__}: {reason}"
            tmp.unlink(missing_ok=True)
            if attempt == self.retries:
                raise FdsnError(f"{url}: {problem} (after {self.retries + 1} attempts)")
            delay = min(max(wait, self.backoff_s * 2**attempt * (0.5 + random.random())),
                        MAX_DELAY_S)
            log.warning("retrying %s in %.1f s after %s", url, delay, problem)
            time.sleep(delay)
        raise AssertionError("unreachable")


def _query_patterns(patterns: Sequence[str], empty: str = "") -> str:
    """FDSN form of fnmatch patterns: ``*`` and ``?`` pass; anything else asks for all (the
    listing filters again); an empty location code is ``--``."""
    out = []
    for p in patterns:
        if p == "" and empty:
            out.append(empty)
        elif all(c.isalnum() or c in "*?-" for c in p):
            out.append(p)
        else:
            return "*"
    return ",".join(out) or "*"


def _day_bounds(day: dt.date) -> tuple[str, str]:
    nxt = day + dt.timedelta(days=1)
    return f"{day.isoformat()}T00:00:00", f"{nxt.isoformat()}T00:00:00"


class FdsnArchive(Archive):
    """An FDSN data centre as an archive (see the module docstring). ``cache`` is where the
    station metadata is kept (the output store); None keeps it in memory only."""

    layout = "fdsn"

    def __init__(self, data: DataConfig, cache: Location | None = None) -> None:
        super().__init__(data)
        self.base_url = fdsn_base_url(data.source)
        self.client = FdsnClient(self.base_url, connections=data.fdsn_connections,
                                 retries=data.fdsn_retries, backoff_s=data.fdsn_backoff_s,
                                 timeout_s=data.fdsn_timeout_s)
        self.cache = cache
        self._inventory: Any = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.base_url

    def day_pattern(self, day: dt.date) -> str:
        """The dataselect request of one channel-day."""
        start, end = _day_bounds(day)
        return self.client.url("dataselect", {"network": "<NET>", "station": "<STA>",
                                              "location": "<LOC>", "channel": "<CHA>",
                                              "starttime": start, "endtime": end})

    def default_stations(self) -> str:
        return self.client.url("station", self.station_params())

    def station_params(self) -> dict[str, str]:
        """The station query: the selection over the whole campaign, with responses."""
        d = self.data
        return {
            "network": _query_patterns(d.network), "station": _query_patterns(d.station),
            "location": _query_patterns(d.location, empty="--"),
            "channel": _query_patterns(d.channel),
            "starttime": _day_bounds(d.start)[0], "endtime": _day_bounds(d.end)[1],
            "level": "response", "format": "xml",
        }

    def station_inventory(self) -> Any:
        """The station metadata (obspy ``Inventory``): from the cache, else from the service
        (then cached). Raises :class:`FdsnError` when the service cannot be reached."""
        with self._lock:
            if self._inventory is None:
                self._inventory = self._load_inventory()
            return self._inventory

    def _load_inventory(self) -> Any:
        from obspy import Inventory, read_inventory

        url = self.default_stations()
        rel = f"metadata/fdsn/{hashlib.sha256(url.encode()).hexdigest()[:16]}.xml"
        if self.cache is not None and self.cache.exists(rel):
            log.info("station metadata of %s from the cache %s", url, self.cache.child(rel).url)
            return read_inventory(io.BytesIO(self.cache.read_bytes(rel)), format="STATIONXML")
        with tempfile.TemporaryDirectory(prefix="c4-fdsn-") as tmp:
            path = Path(tmp) / "station.xml"
            if not self.client.get(url, path):
                log.warning("the station service has no channel matching the selection: %s",
                            url)
                return Inventory(networks=[], source=self.base_url)
            inv = read_inventory(str(path), format="STATIONXML")
            if self.cache is not None:
                self.cache.put(path, rel)
                log.info("station metadata of %s cached as %s", url, self.cache.child(rel).url)
        return inv

    def list_day(self, day: dt.date) -> DayListing:
        from obspy import UTCDateTime

        t0 = UTCDateTime(day.year, day.month, day.day)
        t1 = t0 + 86400
        out = DayListing(day, self.default_stations(), self.day_pattern(day))
        for net in self.station_inventory():
            for sta in net:
                for cha in sta:
                    ch = ChannelId(net.code, sta.code, cha.location_code or "", cha.code)
                    if ((cha.start_date is not None and cha.start_date >= t1)
                            or (cha.end_date is not None and cha.end_date <= t0)):
                        continue
                    if not matches_selection(ch, self.data):
                        out.n_unselected += 1
                        continue
                    key = f"fdsn/{ch.id}.D.{day.year:04d}.{day.timetuple().tm_yday:03d}"
                    out.files.setdefault(ch, [ObjectInfo(key, None, "")])
        return out

    def request_url(self, key: str) -> str:
        """The dataselect request behind a listed key."""
        parsed = parse_sds_name(key.rsplit("/", 1)[-1])
        if parsed is None:
            raise ValueError(f"{key!r} is not an FDSN channel-day key")
        ch, day = parsed
        start, end = _day_bounds(day)
        return self.client.url("dataselect", {
            "network": ch.network, "station": ch.station, "location": ch.location or "--",
            "channel": ch.channel, "starttime": start, "endtime": end})

    def fetch(self, keys: Sequence[str], scratch: Path) -> FetchReport:
        out = FetchReport()

        def one(key: str) -> tuple[str, bool | None, str]:
            url = self.request_url(key)
            try:
                return key, self.client.get(url, scratch / key), url
            except Exception as exc:  # FdsnError, or a local problem such as a full disk
                return key, None, str(exc) or type(exc).__name__

        workers = max(1, min(self.data.fdsn_connections, len(keys)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for key, got, detail in pool.map(one, keys):
                if got is None:
                    log.warning("download of %s failed: %s", key, detail)
                    out.failed[key] = detail
                elif got:
                    out.local[key] = scratch / key
                else:
                    out.no_data[key] = f"no data at {self.base_url} ({detail})"
        return out
