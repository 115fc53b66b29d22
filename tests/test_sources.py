"""Archive layouts (SCEDC, SDS), channel choice, listing on disk."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from c4.config import parse_config
from c4.sources import (
    Archive,
    ChannelId,
    parse_scedc_name,
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


def test_sds_key() -> None:
    assert sds_key(ChannelId("IU", "ANMO", "00", "LHZ"), dt.date(2010, 1, 1)) == (
        "2010/IU/ANMO/LHZ.D/IU.ANMO.00.LHZ.D.2010.001")


def test_channel_choice_is_deterministic(caplog: pytest.LogCaptureFixture) -> None:
    data = parse_config({"data": {"channel": ["HH?", "BH?"], "components": "ZN"}}).data
    chans = [ChannelId("CI", "A", "", "BHZ"), ChannelId("CI", "A", "", "HHZ"),
             ChannelId("CI", "A", "", "HHN"), ChannelId("CI", "A", "", "HHE"),
             ChannelId("CI", "B", "10", "BHZ"), ChannelId("CI", "B", "00", "BHZ"),
             ChannelId("CI", "B", "00", "BHN"), ChannelId("CI", "C", "", "EHZ"),
             ChannelId("CI", "D", "", "HHZ")]
    with caplog.at_level(logging.WARNING):
        got = select_channels(reversed(chans), data, known_stations={"CI.A", "CI.B", "CI.C"})
    assert got == [ChannelId("CI", "A", "", "HHN"), ChannelId("CI", "A", "", "HHZ"),
                   ChannelId("CI", "B", "00", "BHN"), ChannelId("CI", "B", "00", "BHZ")]
    assert "station CI.D has no metadata, skipping it" in caplog.text


def test_listing_scedc_and_sds_on_disk(tmp_path: Path) -> None:
    ch = ChannelId("CI", "BAK", "", "BHZ")
    for key in (scedc_key(ch, DAY), sds_key(ch, DAY)):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"x")
    (tmp_path / scedc_key(ch, DAY)).with_name("notes.txt").write_text("ignored")
    for layout, key in (("scedc", scedc_key(ch, DAY)), ("sds", sds_key(ch, DAY))):
        arch = Archive(parse_config({"data": {"source": str(tmp_path), "layout": layout}}).data)
        assert arch.list_day(DAY) == {ch: [key]}
        assert arch.list_day(DAY + dt.timedelta(days=1)) == {}
        assert arch.fetch([key], tmp_path / "scratch") == {key: tmp_path / key}


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
