"""Station metadata from CSV and StationXML; pair geometry."""

from __future__ import annotations

from pathlib import Path

import pytest
from c4.config import parse_config
from c4.stations import StationInfo, load_stations, pair_geometry

from tests.pipeline_helpers import small_archive


def test_csv_and_stationxml_give_the_same_coordinates(tmp_path: Path) -> None:
    xml = small_archive(tmp_path / "a", days=1, day_length_s=600.0)
    csv = small_archive(tmp_path / "b", days=1, day_length_s=600.0, metadata="csv")
    s_xml = load_stations(parse_config({"data": {"stations": xml["stations"]}}).data)
    s_csv = load_stations(parse_config({"data": {"stations": csv["stations"]}}).data)
    assert s_xml.known == s_csv.known == {"SY.S01", "SY.S02", "SY.S03", "SY.S04"}
    s_xml.load(s_xml.known)
    assert "SY.S01" in s_xml.inventories
    for sid in s_csv.known:
        a, b = s_xml.coords[sid], s_csv.coords[sid]
        assert a.latitude == pytest.approx(b.latitude, abs=1e-6)
        assert a.longitude == pytest.approx(b.longitude, abs=1e-6)


def test_pair_geometry() -> None:
    src, rcv = StationInfo(0.0, 0.0, 0.0), StationInfo(1.0, 0.0, 0.0)
    dist, az, baz = pair_geometry(src, rcv)
    assert dist == pytest.approx(110.574, abs=0.01)  # one degree of latitude at the equator
    assert az == pytest.approx(0.0) and baz == pytest.approx(180.0)
    assert pair_geometry(src, src) == (0.0, 0.0, 0.0)


def test_missing_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"data\.stations"):
        load_stations(parse_config({"data": {"stations": str(tmp_path / "nope.csv")}}).data)
