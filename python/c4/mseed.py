"""miniSEED decoding with obspy's libmseed, safe to run in many threads at once.

``obspy.read`` cannot run in threads: each call points libmseed's process-wide log handler at
callbacks that belong to that call, so a message from one thread's decode lands in another
call's list, or in a callback already freed once that call returned. Here one handler, installed
for the life of the process, passes libmseed's messages to the thread that is decoding (ctypes
runs a callback on the thread that called into C), and the decode itself (obspy's compiled
``readMSEEDBuffer``, which runs without the GIL) runs in parallel on all threads. libmseed
formats messages in one static buffer, so a file that had messages is decoded once more with
no other decode running, for its own messages (rare: damaged files only).

:func:`read_traces` decodes a miniSEED file into :class:`DecodedTrace` objects, one per
contiguous segment as libmseed joins records, with the file's libmseed warnings. A file whose
first record is not a data record (a full SEED volume, another format) goes to ``obspy.read``
while no decode runs. libmseed errors make the file unreadable (:class:`MseedError`), as in
``obspy.read``.

Within one process, miniSEED should be read only through this module while decodes run here
(an ``obspy.read`` in another thread swaps the log handler for the time of its call).
"""

from __future__ import annotations

import ctypes as C
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from obspy.io.mseed import headers as _headers

from c4 import interrupts

__all__ = ["DecodedTrace", "MseedError", "read_traces", "summarise_notes"]

_lib = _headers.clibmseed.lib
_DTYPES = {b"i": np.int32, b"f": np.float32, b"d": np.float64, b"a": np.int8}
#: Bytes of the smallest miniSEED record.
_MIN_RECORD = 128


class MseedError(ValueError):
    """A file libmseed cannot read; the message says why."""


@dataclass(frozen=True)
class DecodedTrace:
    """One contiguous segment of a file."""

    network: str
    station: str
    location: str
    channel: str
    start_us: int
    """Time of the first sample, microseconds since 1970-01-01 UTC (libmseed's hptime)."""
    rate: float
    """Sampling rate, Hz."""
    data: np.ndarray
    """Samples as decoded: int32 (Steim and integer encodings), float32 or float64."""

    @property
    def id(self) -> str:
        return f"{self.network}.{self.station}.{self.location}.{self.channel}"


class _Gate:
    """Shared for decodes, exclusive for ``obspy.read`` (which swaps the log handler)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


_gate = _Gate()
_local = threading.local()
_LOG_FUNC = C.CFUNCTYPE(None, C.c_char_p)


def _on_diagnostic(message: bytes) -> None:
    sink = getattr(_local, "messages", None)
    if sink is not None:
        sink.append(message.decode("utf-8", "replace").strip())


def _on_log(message: bytes) -> None:
    """libmseed's verbose log (level 0): not wanted."""


# Module-level, so the callbacks live as long as the process and libmseed may call them at any
# time; obspy's setupLogging(diag_print, log_print) installs them process-wide.
_diagnostic_cb = _LOG_FUNC(_on_diagnostic)
_log_cb = _LOG_FUNC(_on_log)


def _is_data_record(head: bytes) -> bool:
    """Whether ``head`` starts like a miniSEED data record (sequence number, quality code)."""
    return (len(head) >= 8 and all(c in b"0123456789 \x00" for c in head[:6])
            and head[6:7] in (b"D", b"R", b"Q", b"M"))


def _decode(buf: np.ndarray, alone: bool = False) -> tuple[list[DecodedTrace], list[str]]:
    """Decode ``buf``; ``alone``: with no other decode running."""
    arrays: list[np.ndarray] = []

    def allocate(count: int, sampletype: bytes) -> int:
        data = np.empty(count if sampletype in _DTYPES else 0, _DTYPES.get(sampletype, np.int8))
        arrays.append(data)
        return int(data.ctypes.data)

    alloc = C.CFUNCTYPE(C.c_longlong, C.c_int, C.c_char)(allocate)
    messages: list[str] = []
    _local.messages = messages
    try:
        with _gate.exclusive() if alone else _gate.shared():
            _lib.setupLogging(_diagnostic_cb, _log_cb)
            lil = _lib.readMSEEDBuffer(buf, len(buf), None, C.c_int8(1), -1, C.c_int8(0),
                                       C.c_int8(0), -1, alloc)
    finally:
        _local.messages = None
    if messages and not alone:
        # libmseed formats every message in one static buffer, so with decodes running at
        # the same time the text may be another file's (whether a file had messages is
        # right): decode such a file again on its own for its own messages.
        if lil:
            _lib.lil_free(lil)
        return _decode(buf, alone=True)
    errors = [m[len("ERROR:"):].strip() for m in messages if m.startswith("ERROR:")]
    notes = [m[len("INFO:"):].strip() if m.startswith("INFO:") else m
             for m in messages if not m.startswith("ERROR:")]
    traces: list[DecodedTrace] = []
    try:
        node = lil.contents if lil else None
        while node is not None:
            ids = [getattr(node, k).decode("ascii", "replace").strip()
                   for k in ("network", "station", "location", "channel")]
            seg = node.firstSegment
            while seg:
                s = seg.contents
                data = arrays.pop(0)
                if s.sampletype in (b"i", b"f", b"d"):
                    traces.append(DecodedTrace(ids[0], ids[1], ids[2], ids[3], int(s.starttime),
                                               float(s.samprate), data))
                seg = s.next
            node = node.next.contents if node.next else None
    finally:
        if lil:
            _lib.lil_free(lil)
    if errors:
        raise MseedError("; ".join(errors))
    return traces, notes


def _read_with_obspy(path: str) -> tuple[list[DecodedTrace], list[str]]:
    from obspy import read

    with _gate.exclusive(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = read(path)
        except Exception as exc:
            text = str(exc).strip()
            raise MseedError(text.splitlines()[0] if text else type(exc).__name__) from exc
    traces = [DecodedTrace(tr.stats.network, tr.stats.station, tr.stats.location,
                           tr.stats.channel, tr.stats.starttime.ns // 1000,
                           float(tr.stats.sampling_rate), np.asarray(tr.data))
              for tr in stream]
    return traces, [str(w.message) for w in caught]


def read_traces(path: str | Path) -> tuple[list[DecodedTrace], list[str]]:
    """The traces of a miniSEED file and its libmseed warnings; :class:`MseedError` (or
    ``OSError``) if the file cannot be read."""
    with interrupts.deferred():  # see c4.interrupts.deferred: libmseed calls back into Python
        return _read_traces(str(path))


def _read_traces(path: str) -> tuple[list[DecodedTrace], list[str]]:
    buf = np.fromfile(path, dtype=np.int8)
    if len(buf) < _MIN_RECORD:
        raise MseedError(f"{len(buf)} bytes: smaller than one miniSEED record "
                         f"({_MIN_RECORD} bytes)")
    if not _is_data_record(buf[:8].tobytes()):
        return _read_with_obspy(path)
    return _decode(buf)


_SKIP = re.compile(r"skip bytes (\d+) to (\d+)", re.I)
_LAST = re.compile(r"last record only has (\d+) byte", re.I)


def summarise_notes(path: str | Path, notes: list[str], traces: list[DecodedTrace]) -> str | None:
    """One line for a file's libmseed (or obspy) warnings, naming the file and what was
    skipped: ``<path>: skipped 199,936 of 200,512 bytes that are not miniSEED records; kept
    1 segment(s), 721 samples (1,563 libmseed warnings, first: ...)``; None without warnings.
    A damaged file can produce one warning per record, thousands of lines otherwise."""
    if not notes:
        return None
    skipped = 0
    for note in notes:
        m = _SKIP.search(note)
        if m:
            skipped += int(m[2]) - int(m[1]) + 1
            continue
        m = _LAST.search(note)
        if m:
            skipped += int(m[1])
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    kept = f"kept {len(traces)} segment(s), {sum(len(t.data) for t in traces):,} samples"
    what = (f"skipped {skipped:,} of {size:,} bytes that are not miniSEED records; {kept}"
            if skipped else kept)
    count = f"{len(notes):,} libmseed warning{'s' if len(notes) != 1 else ''}"
    return f"{path}: {what} ({count}, first: {notes[0]})"
