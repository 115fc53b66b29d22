"""FDSN web services as a source, against a small FDSN-compatible server of our own on 127.0.0.1
(tests/fdsn_server.py) serving real recordings shipped with obspy: retries, back-off, the
concurrency limit, the User-Agent, "no data", station metadata cached in the output store, and
`c4 correlate` end to end (equal to the same data read from an SDS archive on disk)."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import c4
import numpy as np
import obspy
import pytest
from c4.config import parse_config
from c4.objstore import Location, ObjectInfo
from c4.sources import ChannelId, open_archive
from c4.sources.fdsn import USER_AGENT, FdsnClient, FdsnError
from c4.store import completed_days, completed_shards
from obspy import Inventory, Stream, UTCDateTime, read, read_inventory
from obspy.core.inventory import Channel, Network, Site, Station

from tests.fdsn_server import FdsnServer
from tests.pipeline_helpers import arrays_equal, run_c4
from tests.test_sds_real_data import to_sds

OBSPY = Path(obspy.__file__).parent
ANMO_DAY = dt.date(2010, 1, 1)
CA_DAY = dt.date(2011, 2, 15)


def _anmo() -> tuple[Stream, Inventory]:
    """IU.ANMO.00.LHZ: a real day at 1 Hz and its StationXML from the IRIS station service."""
    return (read(str(OBSPY / "signal/tests/data/IUANMO.seed")),
            read_inventory(str(OBSPY / "signal/tests/data/IUANMO.xml")))


def _colocated() -> tuple[Stream, Inventory]:
    """Two co-located sensors (1 h at 200 Hz) and StationXML for them."""
    st = read(str(OBSPY / "signal/tests/data/ref_STS2"))
    st += read(str(OBSPY / "signal/tests/data/ref_unknown"))
    t0 = UTCDateTime(2011, 1, 1)
    stations = [Station(tr.stats.station, 46.0, 7.0, 0.0, start_date=t0, site=Site(name="test"),
                        channels=[Channel(tr.stats.channel, tr.stats.location, 46.0, 7.0, 0.0,
                                          0.0, sample_rate=200.0, start_date=t0)])
                for tr in st]
    return st, Inventory(networks=[Network("CA", stations=stations)], source="c4 tests")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def anmo(no_proxy: None) -> Iterator[FdsnServer]:
    with FdsnServer(*_anmo()) as server:
        yield server


def _anmo_url(client: FdsnClient) -> str:
    return client.url("dataselect", {"network": "IU", "station": "ANMO", "location": "00",
                                     "channel": "LHZ", "starttime": "2010-01-01T00:00:00",
                                     "endtime": "2010-01-02T00:00:00"})


def test_throttling_and_dropped_connections_are_retried(anmo: FdsnServer, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    client = FdsnClient(anmo.url, retries=4, backoff_s=0.01)
    url = _anmo_url(client)
    anmo.faults["IU.ANMO.00.LHZ"] = ["429", "drop", "truncate", "503"]
    with caplog.at_level(logging.WARNING):
        assert client.get(url, tmp_path / "a.mseed")
    assert [r.answer for r in anmo.requests] == ["429", "drop", "truncate", "503", "200"]
    assert caplog.text.count("retrying") == 4 and "IncompleteRead" in caplog.text
    got = read(str(tmp_path / "a.mseed"))
    want = _anmo()[0]
    assert got[0].id == "IU.ANMO.00.LHZ"
    np.testing.assert_array_equal(got[0].data, want[0].data)
    assert all(r.user_agent == USER_AGENT for r in anmo.requests)
    assert USER_AGENT.startswith(f"c4/{c4.__version__} ")
    assert not list(tmp_path.glob("*.part"))


def test_a_service_that_keeps_failing_is_an_error(anmo: FdsnServer, tmp_path: Path) -> None:
    client = FdsnClient(anmo.url, retries=2, backoff_s=0.01)
    anmo.always["dataselect"] = "503"
    with pytest.raises(FdsnError, match=r"HTTP 503 .*after 3 attempts"):
        client.get(_anmo_url(client), tmp_path / "a.mseed")
    assert anmo.count("dataselect") == 3
    anmo.always["dataselect"] = "400"  # a bad request is not retried
    with pytest.raises(FdsnError, match=r"HTTP 400"):
        client.get(_anmo_url(client), tmp_path / "a.mseed")
    assert anmo.count("dataselect") == 4
    assert not (tmp_path / "a.mseed").exists() and not list(tmp_path.glob("*.part"))


def test_listing_follows_channel_epochs_and_no_data_is_not_a_failure(
        anmo: FdsnServer, tmp_path: Path) -> None:
    data = parse_config({"data": {"layout": "fdsn", "source": anmo.url, "channel": ["LH?"],
                                  "start": "2009-12-31", "end": "2012-01-01",
                                  "fdsn_backoff_s": 0.01}}).data
    archive = open_archive(data)
    ch = ChannelId("IU", "ANMO", "00", "LHZ")
    listing = archive.list_day(ANMO_DAY)
    assert listing.files == {ch: [ObjectInfo("fdsn/IU.ANMO.00.LHZ.D.2010.001", None, "")]}
    assert "/fdsnws/dataselect/1/query?" in listing.pattern
    assert "/fdsnws/station/1/query?" in listing.where
    assert archive.list_day(dt.date(2012, 1, 1)).files == {}  # the LHZ epoch ended in 2011
    got = archive.fetch(listing.keys(ch), tmp_path)
    assert not got.failed and read(str(got.local[listing.keys(ch)[0]]))[0].stats.npts == 86400
    empty = archive.fetch(archive.list_day(dt.date(2009, 12, 31)).keys(ch), tmp_path)
    assert not empty.failed and not empty.local
    assert list(empty.no_data) == ["fdsn/IU.ANMO.00.LHZ.D.2009.365"]


def test_station_metadata_is_fetched_once_and_cached_in_the_output_store(
        anmo: FdsnServer, tmp_path: Path) -> None:
    data = parse_config({"data": {"layout": "fdsn", "source": anmo.url, "channel": ["LH?"],
                                  "start": "2010-01-01", "end": "2010-01-31"}}).data
    out = Location(str(tmp_path / "out"))
    when = UTCDateTime(2010, 1, 1)
    want = _anmo()[1].get_coordinates("IU.ANMO.00.LHZ", when)
    for _ in range(2):
        inv = open_archive(data, cache=out).station_inventory()
        assert inv.get_coordinates("IU.ANMO.00.LHZ", when) == want
        assert inv.get_response("IU.ANMO.00.LHZ", when).instrument_sensitivity.value == \
            _anmo()[1].get_response("IU.ANMO.00.LHZ", when).instrument_sensitivity.value
    assert anmo.count("station") == 1
    params = anmo.requests[0].params
    assert (params["level"], params["channel"], params["starttime"], params["endtime"]) == (
        "response", "LH?", "2010-01-01T00:00:00", "2010-02-01T00:00:00")
    cached = out.list_keys("metadata/fdsn")
    assert len(cached) == 1
    assert read_inventory(io.BytesIO(out.read_bytes(cached[0])))[0][0].code == "ANMO"


def test_requests_in_flight_stay_within_the_limit(no_proxy: None, tmp_path: Path) -> None:
    st, inv = _colocated()
    for i in range(6):  # twelve channels: six copies of the two sensors
        for tr in st[:2]:
            copy = tr.copy()
            copy.stats.location = f"{i:02d}"
            st += copy
    inv = Inventory(networks=[Network("CA", stations=inv[0].stations)], source="t")
    for sta in inv[0]:
        base = sta.channels[0]
        sta.channels = [Channel(base.code, f"{i:02d}", 46.0, 7.0, 0.0, 0.0, sample_rate=200.0,
                                start_date=base.start_date) for i in range(6)]
    with FdsnServer(st, inv, delay_s=0.2) as server:
        data = parse_config({"data": {"layout": "fdsn", "source": server.url,
                                      "channel": ["EH?"], "start": "2011-02-15",
                                      "end": "2011-02-15", "fdsn_connections": 3}}).data
        archive = open_archive(data)
        listing = archive.list_day(CA_DAY)
        keys = [k for c in listing.channels for k in listing.keys(c)]
        assert len(keys) == 12
        got = archive.fetch(keys, tmp_path)
    assert not got.failed and len(got.local) == 12
    assert server.max_in_flight == 3


# ------------------------------------------------------------------------ c4 correlate
PROCESSING = {"sampling_rate": 20.0, "cc_len": 600.0, "step": 300.0, "freqmin": 0.5,
              "freqmax": 8.0, "maxlag": 10.0, "time_norm": "one_bit",
              "min_data_fraction": 0.02, "stack_methods": ["linear"], "workers": 1}


def _config(tmp_path: Path, name: str, data: dict[str, object]) -> Path:
    (tmp_path / "scratch").mkdir(exist_ok=True)
    cfg = parse_config({
        "data": {"channel": ["EH?"], "start": CA_DAY.isoformat(), "end": CA_DAY.isoformat(),
                 **data},
        "processing": PROCESSING,
        "output": {"output": str(tmp_path / f"out-{name}"), "scratch": str(tmp_path / "scratch"),
                   "min_free_gb": 0}})
    path = tmp_path / f"{name}.toml"
    path.write_text(cfg.to_toml())
    return path


@pytest.mark.slow
def test_correlate_from_an_fdsn_service_end_to_end(no_proxy: None, tmp_path: Path) -> None:
    """The co-located pair through a throttling, connection-dropping service equals the same
    files read from an SDS archive; a service that keeps failing leaves the day failed (exit 1,
    nothing complete) and the next run completes it, without asking for metadata again."""
    st, inv = _colocated()
    to_sds(tmp_path / "sds", st)
    meta = tmp_path / "sds-meta" / "CA"
    meta.mkdir(parents=True)
    for sta in inv[0]:
        Inventory(networks=[Network("CA", stations=[sta])], source="t").write(
            str(meta / f"CA.{sta.code}.xml"), format="STATIONXML")
    sds = _config(tmp_path, "sds", {"layout": "sds", "source": str(tmp_path / "sds"),
                                    "stations": str(meta.parent)})
    res = run_c4("correlate", "--config", str(sds), "--index", "0")
    assert res.returncode == 0, res.stderr
    want = c4.open_results(str(tmp_path / "out-sds"))
    assert want.pair.values.tolist() == ["CA.0438..EHZ_CA.STS2..EHZ"]
    assert float(want.lag[int(np.argmax(want.linear.values[0]))]) == 0.0

    fdsn_data = {"layout": "fdsn", "fdsn_retries": 3, "fdsn_backoff_s": 0.01}
    with FdsnServer(st, inv) as server:
        server.faults = {"station": ["503", "drop"], "CA.STS2..EHZ": ["429", "429"],
                         "CA.0438..EHZ": ["drop", "truncate"]}
        ok = _config(tmp_path, "fdsn", {**fdsn_data, "source": server.url})
        res = run_c4("correlate", "--config", str(ok), "--index", "0")
        assert res.returncode == 0, res.stderr
        assert res.stderr.count("retrying") == 6
        got = c4.open_results(str(tmp_path / "out-fdsn"))
        assert arrays_equal(got, want)
        assert all(r.user_agent == USER_AGENT for r in server.requests)

        server.requests.clear()
        server.always["CA.0438..EHZ"] = "503"
        bad = _config(tmp_path, "failing", {**fdsn_data, "source": server.url})
        res = run_c4("correlate", "--config", str(bad), "--index", "0")
        assert res.returncode == 1, res.stderr
        assert "day 2011-02-15 failed, not marked complete" in res.stderr
        assert "1 of 1 days failed" in res.stderr
        out = str(tmp_path / "out-failing")
        assert completed_days(out) == set() and completed_shards(out) == set()
        assert server.count("dataselect", "503") == 4
        assert server.count("station") == 1

        server.always.clear()
        server.requests.clear()
        res = run_c4("correlate", "--config", str(bad), "--index", "0")
        assert res.returncode == 0, res.stderr
        assert completed_days(out) == {CA_DAY}
        assert arrays_equal(c4.open_results(out), want)
        assert server.count("station") == 0  # metadata from the output store's cache
        assert server.count("dataselect") == 2
