"""Archive layouts (SCEDC, NCEDC, SDS) on disk, channel choice, source URL checks."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from c4.config import ConfigError, parse_config
from c4.sources import (
    ChannelId,
    ncedc_key,
    ncedc_name,
    open_archive,
    parse_ncedc_name,
    parse_scedc_name,
    parse_sds_name,
    scedc_key,
    scedc_name,
    sds_key,
    select_channels,
)

DAY = dt.date(2024, 2, 1)


def test_scedc_names_pad_station_and_location() -> None:
    assert scedc_name(ChannelId("CI", "BAK", "", "BHZ"), DAY) == "CIBAK__BHZ___2024032.ms"
    assert scedc_name(ChannelId("CI", "PASC", "00", "HHN"), DAY) == "CIPASC_HHN00_2024032.ms"
    assert scedc_key(ChannelId("CI", "ADO", "", "BHE"), dt.date(2016, 1, 1)) == (
        "continuous_waveforms/2016/2016_001/CIADO__BHE___2016001.ms")
    for ch in (ChannelId("CI", "BAK", "", "BHZ"), ChannelId("AZ", "PFO10", "01", "HHZ")):
        assert parse_scedc_name(scedc_name(ch, DAY)) == (ch, DAY)
    assert parse_scedc_name("README.txt") is None


def test_ncedc_names_put_the_station_first_and_keep_an_empty_location() -> None:
    # the examples of the NCEDC's own documentation (ncedc.org/db/cloud.html)
    assert parse_ncedc_name("MERC.BK.HNZ.00.D.2022.254") == (
        ChannelId("BK", "MERC", "00", "HNZ"), dt.date(2022, 9, 11))
    assert parse_ncedc_name("KBG.NC.HHZ..D.2018.023") == (
        ChannelId("NC", "KBG", "", "HHZ"), dt.date(2018, 1, 23))
    ch = ChannelId("BG", "CLV", "", "DPN")
    assert ncedc_key(ch, dt.date(2023, 1, 22)) == (
        "continuous_waveforms/BG/2023/2023.022/CLV.BG.DPN..D.2023.022")
    assert parse_ncedc_name(ncedc_name(ch, DAY)) == (ch, DAY)
    for bad in ("README", "CLV.BG.DPN..Q.2023.022", "CLV.BG.DPN..D.2023.400"):
        assert parse_ncedc_name(bad) is None


def test_sds_key() -> None:
    assert sds_key(ChannelId("IU", "ANMO", "00", "LHZ"), dt.date(2010, 1, 1)) == (
        "2010/IU/ANMO/LHZ.D/IU.ANMO.00.LHZ.D.2010.001")
    assert parse_sds_name("IU.ANMO..LHZ.D.2010.032") == (
        ChannelId("IU", "ANMO", "", "LHZ"), dt.date(2010, 2, 1))


def _data(**kw: object) -> object:
    return parse_config({"data": kw}).data


def test_explicit_channel_priority_wins(caplog: pytest.LogCaptureFixture) -> None:
    data = _data(channel=["HH?", "BH?"], components="ZN", channel_priority=["HH", "BH"])
    chans = [ChannelId("CI", "A", "", "BHZ"), ChannelId("CI", "A", "", "HHZ"),
             ChannelId("CI", "A", "", "HHN"), ChannelId("CI", "A", "", "HHE"),
             ChannelId("CI", "B", "10", "BHZ"), ChannelId("CI", "B", "00", "BHZ"),
             ChannelId("CI", "B", "00", "BHN"), ChannelId("CI", "C", "", "EHZ"),
             ChannelId("CI", "D", "", "HHZ")]
    rates = {c: 40.0 for c in chans if c.channel.startswith("BH")}
    with caplog.at_level(logging.WARNING):
        got = select_channels(reversed(chans), data, known_stations={"CI.A", "CI.B", "CI.C"},
                              sampling_rate=20.0, rates=rates)
    assert got == [ChannelId("CI", "A", "", "HHN"), ChannelId("CI", "A", "", "HHZ"),
                   ChannelId("CI", "B", "00", "BHN"), ChannelId("CI", "B", "00", "BHZ")]
    assert "station CI.D has no metadata, skipping it" in caplog.text


def test_default_priority_takes_the_slowest_band_that_covers_the_target() -> None:
    data = _data(channel=["HH?", "BH?", "LH?", "EH?"], components="Z")
    a_bh, a_hh, a_lh = (ChannelId("CI", "A", "", c) for c in ("BHZ", "HHZ", "LHZ"))
    b_bh, b_hh = ChannelId("CI", "B", "00", "BHZ"), ChannelId("CI", "B", "10", "HHZ")
    c_eh, c_hh = ChannelId("CI", "C", "", "EHZ"), ChannelId("CI", "C", "", "HHZ")
    chans = [a_bh, a_hh, a_lh, b_bh, b_hh, c_eh, c_hh]
    rates = {a_bh: 40.0, a_hh: 100.0, a_lh: 1.0, b_bh: 20.0, b_hh: 100.0, c_eh: 100.0,
             c_hh: 100.0}

    def pick(target: float, known_rates: dict[ChannelId, float] | None) -> list[ChannelId]:
        return select_channels(chans, data, sampling_rate=target, rates=known_rates)

    # 20 Hz: a 40 Hz BH covers it (SCEDC's BH), so does a 20 Hz one; equal rates: broadband H
    assert pick(20.0, rates) == [a_bh, b_bh, c_hh]
    # 25 Hz: B's 20 Hz BH no longer covers it; its HH does (the other location code)
    assert pick(25.0, rates) == [a_bh, b_hh, c_hh]
    assert pick(1.0, rates) == [a_lh, b_bh, c_hh]
    assert pick(500.0, rates) == [a_hh, b_hh, c_hh]  # nothing covers: the fastest
    # without sample rates, BH is only known to be >= 10 Hz: HH (>= 80 Hz) is the safe choice
    assert pick(20.0, None) == [a_hh, b_hh, c_hh]
    assert pick(5.0, None) == [a_bh, b_bh, c_hh]
    assert parse_config({}).data.channel_priority == []


def _write(root: Path, key: str, body: bytes = b"x") -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_every_file_layout_lists_a_day_on_disk_with_sizes(tmp_path: Path) -> None:
    ch = ChannelId("BK", "BRK", "00", "HHZ")
    other = ChannelId("BK", "BRK", "00", "HHE")  # not a selected component
    keys = {"scedc": scedc_key, "ncedc": ncedc_key, "sds": sds_key}
    for layout, key_of in keys.items():
        root = tmp_path / layout
        path = _write(root, key_of(ch, DAY), b"abcd")
        _write(root, key_of(other, DAY))
        _write(root, key_of(ch, DAY + dt.timedelta(days=1)))
        _write(root, key_of(ch, DAY), b"").with_name("notes.txt").write_text("ignored")
        path.write_bytes(b"abcd")
        arch = open_archive(parse_config({"data": {"source": str(root), "layout": layout,
                                                   "components": "Z"}}).data)
        assert arch.layout == layout and not arch.remote
        listing = arch.list_day(DAY)
        assert listing.channels == [ch], layout
        # SDS does not even open the folders of unselected channels
        assert (listing.n_unselected, listing.day) == (int(layout != "sds"), DAY)
        assert listing.where.startswith(str(root)) and "2024" in listing.pattern
        (f,) = listing.files[ch]
        assert (f.key, f.size, f.etag) == (key_of(ch, DAY), 4, str(path.stat().st_mtime_ns))
        assert arch.list_day(DAY - dt.timedelta(days=1)).files == {}
        got = arch.fetch([f.key], tmp_path / "scratch")
        assert got.local == {f.key: path} and not got.failed
        gone = arch.fetch([key_of(ch, DAY + dt.timedelta(days=5))], tmp_path)
        assert gone.failed and not gone.local


def test_sds_listing_follows_the_selection_and_later_days(tmp_path: Path) -> None:
    a = ChannelId("IU", "ANMO", "00", "LHZ")
    b = ChannelId("IU", "ANMO", "10", "LHZ")
    c = ChannelId("II", "PFO", "", "LHZ")
    for ch in (a, b, c):
        for k in range(40):
            _write(tmp_path, sds_key(ch, DAY + dt.timedelta(days=k)))
    arch = open_archive(parse_config({"data": {
        "source": str(tmp_path), "layout": "sds", "network": ["IU"], "channel": ["LH?"]}}).data)
    for k in (0, 1, 35, 39):  # a window of listings, then a new walk
        day = DAY + dt.timedelta(days=k)
        assert arch.list_day(day).channels == [a, b], k
        assert arch.list_day(day).keys(a) == [sds_key(a, day)]


@pytest.mark.parametrize(("layout", "source", "hint"), [
    ("scedc", "s3://scedc-pds/continuous_waveforms/", "'s3://scedc-pds'"),
    ("scedc", "s3://scedc-pds/continuous_waveforms/2024/2024_001", "'s3://scedc-pds'"),
    ("ncedc", "/data/ncedc/continuous_waveforms", "'/data/ncedc'"),
    ("scedc", "s3://scedc-pds/FDSNstationXML/CI", "'s3://scedc-pds'"),
    ("sds", "/archive/sds/2024/", "'/archive/sds'"),
    ("scedc", "s3://ncedc-pds", "data.layout = 'ncedc'"),
    ("ncedc", "s3://scedc-pds", "data.layout = 'scedc'"),
    ("fdsn", "https://service.example.org/fdsnws/dataselect/1/query",
     "'https://service.example.org'"),
    ("fdsn", "s3://scedc-pds", "http(s)://"),
    ("fdsn", "NOSUCHCENTRE", "known names:"),
    ("scedc", "https://service.example.org", 'data.layout = "fdsn"'),
])
def test_a_source_inside_a_layout_is_refused_with_the_root(layout: str, source: str,
                                                           hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"data": {"layout": layout, "source": source}})
    line = str(err.value)
    assert line.startswith("data.source: ") and hint in line and "\n" not in line


def test_good_sources_pass() -> None:
    for layout, source in (("scedc", "s3://scedc-pds"), ("ncedc", "s3://ncedc-pds/"),
                           ("sds", "/data/sds"), ("sds", "s3://my-bucket/sds"),
                           ("fdsn", "https://service.earthscope.org"), ("fdsn", "geofon")):
        assert parse_config({"data": {"layout": layout, "source": source}}).data.source == source


def test_s3_throttling_is_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    from botocore.exceptions import ClientError
    from c4.objstore import with_retries

    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "reduce rate"},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
        return "ok"

    with caplog.at_level(logging.WARNING):
        assert with_retries(flaky, what="get x", base_s=0.001) == "ok"
    assert len(calls) == 3 and "retrying get x" in caplog.text

    def missing() -> None:
        raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no"}}, "GetObject")

    with pytest.raises(ClientError):
        with_retries(missing, what="get y", base_s=0.001)


def test_docs_list_every_layout_with_example_sources_that_validate() -> None:
    import re
    import typing

    from c4.config import DataConfig

    doc = (Path(__file__).parents[1] / "docs" / "sources.md").read_text()
    layouts = typing.get_args(DataConfig.model_fields["layout"].annotation)
    assert set(layouts) == {"scedc", "ncedc", "sds", "fdsn"}
    for layout in layouts:
        (row,) = [line for line in doc.splitlines() if line.startswith(f"| `{layout}` |")]
        examples = [s for s in re.findall(r"`([^`]+)`", row.split("|")[3])
                    if s.startswith(("s3://", "https://", "/")) or s.isupper()]
        assert examples, layout
        for source in examples:
            assert parse_config({"data": {"layout": layout, "source": source}})
    for pattern in parse_config({}).data.station_files:
        assert f"`{pattern}`" in doc or f'"{pattern}"' in doc
    assert "2.5x fewer bytes" in doc and "unauthoritative-XML" in doc
