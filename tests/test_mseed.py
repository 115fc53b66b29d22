"""c4.mseed decodes what obspy.read decodes, and keeps each file's messages in threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from c4.mseed import MseedError, read_traces
from obspy import Stream, Trace, UTCDateTime, read

T0 = UTCDateTime(2024, 3, 1, 0, 0, 0, 12_300)


def _stream(dtype: type, seed: int = 0) -> Stream:
    rng = np.random.default_rng(seed)
    parts = []
    for start, n in [(0.0, 5000), (60.0, 3000)]:  # a gap after 50 s
        data = (rng.standard_normal(n) * 500).astype(dtype)
        parts.append(Trace(data, header={"network": "XX", "station": "ABC", "location": "00",
                                         "channel": "HHZ", "sampling_rate": 100.0,
                                         "starttime": T0 + start}))
    parts.append(Trace((rng.standard_normal(700) * 9).astype(dtype), header={
        "network": "XX", "station": "ABC", "location": "00", "channel": "HHN",
        "sampling_rate": 40.0, "starttime": T0}))
    return Stream(parts)


@pytest.mark.parametrize(("encoding", "dtype"), [("STEIM2", np.int32), ("STEIM1", np.int32),
                                                 ("INT32", np.int32), ("FLOAT32", np.float32),
                                                 ("FLOAT64", np.float64)])
def test_traces_equal_obspy_read(tmp_path: Path, encoding: str, dtype: type) -> None:
    path = tmp_path / "x.ms"
    _stream(dtype).write(str(path), format="MSEED", encoding=encoding, reclen=512)
    traces, notes = read_traces(path)
    ref = read(str(path))
    assert notes == []
    assert len(traces) == len(ref) == 3
    for t, r in zip(traces, ref, strict=True):
        assert t.id == r.id and t.rate == r.stats.sampling_rate
        assert t.start_us == r.stats.starttime.ns // 1000
        assert t.data.dtype == r.data.dtype
        np.testing.assert_array_equal(t.data, r.data)


def test_other_formats_go_through_obspy(tmp_path: Path) -> None:
    path = tmp_path / "x.sac"
    _stream(np.float32)[0].write(str(path), format="SAC")
    traces, _ = read_traces(path)
    assert len(traces) == 1 and traces[0].id == "XX.ABC.00.HHZ" and len(traces[0].data) == 5000


def test_bad_files_raise_a_reason(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.ms"
    tiny.write_bytes(b"000001D ")
    with pytest.raises(MseedError, match="smaller than one miniSEED record"):
        read_traces(tiny)
    junk = tmp_path / "junk.ms"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(MseedError, match="Unknown format"):
        read_traces(junk)


def _obspy_warnings(path: Path) -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read(str(path))
    return [str(w.message) for w in caught]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_each_thread_gets_its_own_files_messages(tmp_path: Path) -> None:
    # files cut after a different number of bytes: libmseed reads what it can and says how
    # many bytes were left over; many decodes at once must each report their own file's
    # message, as obspy.read reports it one file at a time
    whole = tmp_path / "whole.ms"
    _stream(np.int32).write(str(whole), format="MSEED", encoding="STEIM2", reclen=512)
    raw = whole.read_bytes()
    paths = []
    for k in range(24):
        p = tmp_path / f"cut{k}.ms"
        p.write_bytes(raw[:512 * (k + 2) + 40 + 3 * k] if k % 2 else raw)
        paths.append(p)
    expected = {p: _obspy_warnings(p) for p in paths}
    assert len({tuple(v) for v in expected.values()}) == 13  # 12 distinct cuts and none
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(read_traces, paths * 4))
    for (traces, notes), p in zip(got, paths * 4, strict=True):
        assert notes == expected[p]
        assert sum(len(t.data) for t in traces) == sum(len(t.data) for t in read(str(p)))
