"""Station metadata from CSV and StationXML: epochs by day, file-name patterns, pair geometry."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pytest
from c4.config import ConfigError, parse_config
from c4.pipeline import run_shard
from c4.sources import ChannelId
from c4.stations import StationInfo, load_stations, pair_geometry
from c4.store import read_daily
from obspy import UTCDateTime
from obspy.core.inventory import Channel, Inventory, Network, Site, Station

from tests.pipeline_helpers import small_archive, small_config

D1, D2, D3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)


def _station(code: str, lat: float, lon: float, start: dt.date, end: dt.date | None,
             rate: float = 40.0, channel: str = "BHZ") -> Station:
    t0 = UTCDateTime(start.isoformat())
    t1 = UTCDateTime(end.isoformat()) if end else None
    cha = Channel(channel, "", lat, lon, 0.0, 0.0, sample_rate=rate, start_date=t0, end_date=t1)
    return Station(code, lat, lon, 0.0, channels=[cha], start_date=t0, end_date=t1,
                   site=Site(name=code))


def _write_xml(path: Path, net: str, stations: list[Station]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Inventory(networks=[Network(net, stations=stations)], source="c4 tests").write(
        str(path), format="STATIONXML")
    return path


def test_csv_and_stationxml_give_the_same_coordinates(tmp_path: Path) -> None:
    xml = small_archive(tmp_path / "a", days=1, day_length_s=600.0)
    csv = small_archive(tmp_path / "b", days=1, day_length_s=600.0, metadata="csv")
    s_xml = load_stations(parse_config({"data": {"stations": xml["stations"]}}).data)
    s_csv = load_stations(parse_config({"data": {"stations": csv["stations"]}}).data)
    assert s_xml.known == s_csv.known == {"SY.S01", "SY.S02", "SY.S03", "SY.S04"}
    s_xml.load(s_xml.known)
    assert "SY.S01" in s_xml.inventories
    for sid in s_csv.known:
        a, b = s_xml.on(sid, D1), s_csv.on(sid, D1)
        assert a is not None and b is not None
        assert a.latitude == pytest.approx(b.latitude, abs=1e-6)
        assert a.longitude == pytest.approx(b.longitude, abs=1e-6)


def test_each_day_gets_the_epoch_that_covers_it(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Moved on D2 at 18:00: D1 and D2 (18 h of 24) use the first site, D3 the second; the
    sample rate and the response inventory follow the same epochs; before the first epoch the
    station is left out with a log line."""
    moved = dt.datetime(2024, 1, 2, 18)
    first = _station("MOV", 34.0, -118.0, dt.date(2020, 1, 1), None, rate=20.0, channel="BHN")
    second = _station("MOV", 34.1, -118.1, dt.date(2020, 1, 1), None, rate=40.0, channel="BHN")
    first.channels[0].azimuth, first.channels[0].dip = 3.0, 0.0
    second.channels[0].azimuth, second.channels[0].dip = 357.0, 0.0  # re-installed, turned
    for sta in (first, second):
        for obj in (sta, sta.channels[0]):
            if sta is first:
                obj.end_date = UTCDateTime(moved)
            else:
                obj.start_date = UTCDateTime(moved)
    _write_xml(tmp_path / "xml" / "CI" / "CI_MOV.xml", "CI", [first, second])
    st = load_stations(parse_config({"data": {"stations": str(tmp_path / "xml")}}).data)
    st.load({"CI.MOV"})
    assert st.on("CI.MOV", D1) == StationInfo(34.0, -118.0, 0.0)
    assert st.on("CI.MOV", D2) == StationInfo(34.0, -118.0, 0.0)
    assert st.on("CI.MOV", D3) == StationInfo(34.1, -118.1, 0.0)
    bhn = ChannelId("CI", "MOV", "", "BHN")
    assert st.rates_on([bhn], D1) == {bhn: 20.0}
    assert st.rates_on([bhn], D3) == {bhn: 40.0}
    assert st.orientations_on([bhn], D1) == {"CI.MOV..BHN": 3.0}
    assert st.orientations_on([bhn], D3) == {"CI.MOV..BHN": 357.0}
    inv = st.inventory_on("CI.MOV", D3)
    assert [s.latitude for s in inv.networks[0].stations] == [34.1]
    assert len(st.inventory_on("CI.MOV", D2).networks[0].stations) == 2  # both touch D2
    with caplog.at_level(logging.WARNING):
        assert st.coords_on(["CI.MOV"], dt.date(2019, 6, 1)) == {}
    assert ("station CI.MOV has no metadata epoch covering 2019-06-01 (epochs: "
            "2020-01-01..2024-01-02, 2024-01-02..open)") in caplog.text


def test_csv_epochs(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        "network,station,latitude,longitude,elevation,start,end\n"
        "CI,MOV,34.0,-118.0,10,2020-01-01,2024-01-03\n"
        "CI,MOV,34.1,-118.1,12,2024-01-03,\n"
        "CI,FIX,33.0,-117.0,0,,\n")
    st = load_stations(parse_config({"data": {"stations": str(tmp_path / "s.csv")}}).data)
    assert st.on("CI.MOV", D2) == StationInfo(34.0, -118.0, 10.0)
    assert st.on("CI.MOV", D3) == StationInfo(34.1, -118.1, 12.0)
    assert st.on("CI.FIX", dt.date(1990, 1, 1)) == StationInfo(33.0, -117.0, 0.0)
    assert st.on("CI.MOV", dt.date(2019, 1, 1)) is None


def test_stationxml_names_of_scedc_ncedc_and_the_unauthoritative_fallback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "FDSNstationXML"
    sta = [_station(c, 34.0 + i / 10, -118.0, dt.date(2000, 1, 1), None)
           for i, c in enumerate(("BAK", "BRK", "PFO", "BZN"))]
    _write_xml(root / "CI" / "CI_BAK.xml", "CI", [sta[0]])          # SCEDC
    _write_xml(root / "BK" / "BK.BRK.xml", "BK", [sta[1]])          # NCEDC
    _write_xml(root / "unauthoritative-XML" / "AZ_PFO.xml", "AZ", [sta[2]])
    _write_xml(root / "unauthoritative-XML" / "AZ.BZN.xml", "AZ", [sta[3]])
    other = _station("BAK", 10.0, 10.0, dt.date(2000, 1, 1), None)
    _write_xml(root / "unauthoritative-XML" / "CI_BAK.xml", "CI", [other])  # loses to CI/
    (root / "CI" / "README.xml").write_text("not station metadata")
    (root / "CI" / "CI_BAK.xml.bak").write_text("old")
    data = parse_config({"data": {"stations": str(root)}}).data
    st = load_stations(data)
    assert st.xml_keys == {"CI.BAK": "CI/CI_BAK.xml", "BK.BRK": "BK/BK.BRK.xml",
                           "AZ.PFO": "unauthoritative-XML/AZ_PFO.xml",
                           "AZ.BZN": "unauthoritative-XML/AZ.BZN.xml"}
    st.load(st.known)
    assert st.on("CI.BAK", D1) == StationInfo(34.0, -118.0, 0.0)
    assert st.on("AZ.BZN", D1) == StationInfo(34.3, -118.0, 0.0)
    # an explicit pattern with a network folder: only files in their own network's folder
    only = parse_config({"data": {"stations": str(root),
                                  "station_files": ["{network}/{network}.{station}.xml"]}}).data
    assert load_stations(only).xml_keys == {"BK.BRK": "BK/BK.BRK.xml"}
    # an unreadable file is skipped with its name
    (root / "CI" / "CI_BAD.xml").write_text("<broken")
    st = load_stations(data)
    with caplog.at_level(logging.WARNING):
        st.load({"CI.BAD"})
    assert "skipping station CI.BAD: unreadable StationXML CI/CI_BAD.xml" in caplog.text
    assert "CI.BAD" not in st.known


def test_station_file_patterns_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"data\.station_files: .*\{network\} and \{station\}"):
        parse_config({"data": {"station_files": ["{net}_{station}.xml"]}})


def test_pair_geometry() -> None:
    src, rcv = StationInfo(0.0, 0.0, 0.0), StationInfo(1.0, 0.0, 0.0)
    dist, az, baz = pair_geometry(src, rcv)
    assert dist == pytest.approx(110.574, abs=0.01)  # one degree of latitude at the equator
    assert az == pytest.approx(0.0) and baz == pytest.approx(180.0)
    assert pair_geometry(src, src) == (0.0, 0.0, 0.0)


def test_missing_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"data\.stations"):
        load_stations(parse_config({"data": {"stations": str(tmp_path / "nope.csv")}}).data)


def test_a_moved_station_gives_each_day_its_own_distance(tmp_path: Path) -> None:
    """Three days; station S01 is re-sited 5 km north from the third day on (a new epoch in its
    StationXML). Each day's pairs carry the distance of that day's epochs (checked against
    obspy's geodesic)."""
    from obspy import read_inventory
    from obspy.geodetics import gps2dist_azimuth, kilometers2degrees

    arch = small_archive(tmp_path / "a", days=3, day_length_s=3600.0)
    path = Path(arch["stations"]) / "SY" / "SY_S01.xml"
    inv = read_inventory(str(path))
    old = inv[0][0]
    new = old.copy()
    new.latitude = old.latitude + kilometers2degrees(5.0)
    for obj in (old, old.channels[0]):
        obj.start_date, obj.end_date = UTCDateTime(2000, 1, 1), UTCDateTime(D3.isoformat())
    for obj in (new, new.channels[0]):
        obj.start_date, obj.end_date = UTCDateTime(D3.isoformat()), None
    new.channels[0].latitude = new.latitude
    inv[0].stations = [old, new]
    inv.write(str(path), format="STATIONXML")
    (tmp_path / "scratch").mkdir()
    cfg = small_config(arch, tmp_path / "out", tmp_path / "scratch", stack_methods=["linear"])
    run_shard(cfg, 0)
    lat = dict(zip(arch["names"], arch["latlon"][:, 0], strict=True))
    lon = dict(zip(arch["names"], arch["latlon"][:, 1], strict=True))
    for day, s01_lat in ((D1, old.latitude), (D2, old.latitude), (D3, new.latitude)):
        pairs = read_daily(tmp_path / "out", day).pairs
        for name, dist in zip(pairs["pair"], pairs["distance_km"], strict=True):
            a, b = (n.split(".")[1] for n in str(name).split("_"))
            la = s01_lat if a == "S01" else lat[a]
            lb = s01_lat if b == "S01" else lat[b]
            want = gps2dist_azimuth(la, lon[a], lb, lon[b])[0] / 1000
            assert float(dist) == pytest.approx(want, rel=1e-9), (day, name)
    d1 = read_daily(tmp_path / "out", D1).pairs
    d3 = read_daily(tmp_path / "out", D3).pairs
    moved = np.array(["S01" in str(n) for n in d1["pair"]])
    assert moved.any()
    assert not np.allclose(d1["distance_km"][moved], d3["distance_km"][moved])
    np.testing.assert_array_equal(d1["distance_km"][~moved], d3["distance_km"][~moved])
