"""`c4 submit --dry-run` sized from the archive itself (moto S3 on 127.0.0.1, real files)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import boto3
import pytest
from batch_helpers import invoke, write_config
from c4.config import parse_config
from c4.sources import ChannelId, scedc_key
from c4.sources.sizing import sample_days, size_archive, size_archive_within

from tests.pipeline_helpers import small_archive

START = dt.date(2017, 3, 1)


def test_sample_days_spread_over_the_campaign() -> None:
    days = [START + dt.timedelta(days=k) for k in range(31)]
    assert sample_days(days) == [days[0], days[15], days[30]]
    assert sample_days(days[:2]) == days[:2]


@pytest.fixture
def bucket(aws_env: str, tmp_path: Path) -> dict[str, object]:
    """An SCEDC-layout archive in a bucket: 4 stations with HHZ, two of them also with BHZ,
    and SCEDC's daily index for the first day (BHZ listed at 5 Hz there)."""
    arch = small_archive(tmp_path / "a", days=2, day_length_s=600.0, start=START)
    root = Path(arch["root"])
    for k in range(2):
        day = START + dt.timedelta(days=k)
        for sta in arch["names"][:2]:
            src = root / scedc_key(ChannelId("SY", sta, "", "HHZ"), day)
            (root / scedc_key(ChannelId("SY", sta, "", "BHZ"), day)).write_bytes(
                src.read_bytes()[:2048])
    s3 = boto3.client("s3")
    name = f"sizing-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        s3.upload_file(str(path), name, f"pds/{path.relative_to(root).as_posix()}")
    return {"arch": arch, "root": root, "s3": s3, "name": name}


def _config(bucket: dict[str, object], **data: object) -> object:
    return parse_config({
        "data": {"source": f"s3://{bucket['name']}/pds", "channel": ["HH?", "BH?"],
                 "start": "2017-03-01", "end": "2017-03-02", "anonymous": False, **data},
        "processing": {"sampling_rate": 10.0, "freqmin": 0.1, "freqmax": 1.0}})


def _day_bytes(root: Path, day: dt.date, bands: dict[str, str]) -> int:
    return sum((root / scedc_key(ChannelId("SY", sta, "", bands.get(sta, "HHZ")), day))
               .stat().st_size for sta in ("S01", "S02", "S03", "S04"))


def test_the_archive_gives_stations_channels_and_bytes(bucket: dict[str, object]) -> None:
    root = bucket["root"]
    assert isinstance(root, Path)
    size = size_archive(_config(bucket), [START, START + dt.timedelta(days=1)])
    assert (size.stations, size.channels) == (4, 4)
    assert size.days == ["2017-03-01", "2017-03-02"]
    # band codes only: BH (>= 10 Hz) covers a 10 Hz target and is cheaper than HH
    bh = {"S01": "BHZ", "S02": "BHZ"}
    want = (_day_bytes(root, START, bh) + _day_bytes(root, START + dt.timedelta(days=1), bh)) / 2
    assert size.bytes_per_day == round(want) and size.rates_from == "band codes"
    assert size.sample_rate_hz is None

    s3 = bucket["s3"]
    index = ("ms_filename,net,sta,seedchan,location,lat,lon,sample_rate\n" + "".join(
        f"{scedc_key(ChannelId('SY', s, '', c), START).rsplit('/', 1)[1]},SY,{s},{c},,34,-118,"
        f"{5.0 if c == 'BHZ' else 10.0}\n" for s in ("S01", "S02") for c in ("BHZ", "HHZ")))
    s3.put_object(Bucket=bucket["name"], Body=index.encode(),  # type: ignore[attr-defined]
                  Key="pds/continuous_waveforms/index/csv/year=2017/year_doy=2017_060/"
                      "2017_060_waveform_index.csv")
    size = size_archive(_config(bucket), [START])
    assert size.rates_from == "SCEDC index"  # BHZ at 5 Hz does not cover 10 Hz: HHZ
    assert size.sample_rate_hz == 10.0  # the two indexed HHZ channels
    assert size.bytes_per_day == _day_bytes(root, START, {})


def test_dry_run_estimate_from_the_archive(bucket: dict[str, object], tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None)
    sets = ["--set", f"data.source=s3://{bucket['name']}/pds", "--set", "data.anonymous=false",
            "--set", "data.channel=['HH?']"]
    dry = invoke("submit", "--dry-run", "--months", "1", "--start", "2017-03",
                 "--config", str(config), *sets)
    # exit 2: this bare config would be refused by a real submit (local output, no roles...);
    # the dry run prints the requests and the estimate all the same
    assert dry.exit_code in (0, 2), dry.output
    doc = json.loads(dry.stdout)
    assert doc["archive"]["stations"] == 4 and doc["archive"]["channels"] == 4
    assert doc["archive"]["days"] == ["2017-03-01", "2017-03-16", "2017-03-31"]
    assert doc["estimate"]["stations"] == 4 and doc["estimate"]["channel_days"] == 31 * 4
    assert doc["estimate"]["stations_source"].startswith("archive listing of 2017-03-01")

    off = invoke("submit", "--dry-run", "--months", "1", "--start", "2017-03",
                 "--config", str(config), *sets, "--no-archive-size")
    assert json.loads(off.stdout)["archive"] is None

    missing = invoke("submit", "--dry-run", "--months", "1", "--start", "2017-03",
                     "--config", str(config), "--set", "data.source=s3://no-such-bucket-c4",
                     "--set", "data.anonymous=false")
    doc = json.loads(missing.stdout)
    assert doc["archive"] is None and doc["estimate"]["days"] == 31
    assert "could not size the campaign from s3://no-such-bucket-c4" in missing.stderr


def test_sizing_has_a_deadline(aws_env: str) -> None:
    import socket

    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        cfg = parse_config({"data": {"layout": "fdsn", "source": f"http://127.0.0.1:{port}",
                                     "start": "2017-03-01", "end": "2017-03-01",
                                     "fdsn_retries": 0, "fdsn_timeout_s": 3}})
        size, why = size_archive_within(cfg, [START], timeout_s=1.0)
    assert size is None and "within 1 s" in why
