"""Size a campaign from the archive itself, for ``c4 submit --dry-run``.

A few days spread over the campaign (:data:`SAMPLE_DAYS`: first, middle, last) are listed
exactly as a run lists them, and the channel choice is applied with the stations that have
metadata; the result is the stations and channels a day will correlate and the bytes a day
downloads (the archive's own sizes; unknown for FDSN, whose listing comes from the station
service). Sample rates for the channel choice come from SCEDC's daily index
(``continuous_waveforms/index/csv/year=YYYY/year_doy=YYYY_DDD/*.csv``, column ``sample_rate``)
or the FDSN station metadata when available; otherwise the conservative band-code rule of
:mod:`c4.sources.select` applies, which may count HH where a run with StationXML picks BH.

Everything runs with a deadline (``timeout_s``): a dry run never hangs on an unreachable archive,
it says why it has no archive figures instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from c4.config import Config
from c4.sources.base import Archive, ChannelId
from c4.sources.select import select_channels

log = logging.getLogger("c4.sources")

__all__ = ["SAMPLE_DAYS", "ArchiveSize", "sample_days", "size_archive", "size_archive_within"]

SAMPLE_DAYS = 3
"""Days listed to size a campaign."""


@dataclass(frozen=True)
class ArchiveSize:
    """What a day of the campaign holds, from listings of :attr:`days`."""

    source: str
    days: list[str]
    """The days listed (ISO dates)."""
    stations: int
    """Most stations with selected channels on one listed day."""
    channels: int
    """Most selected channels on one listed day."""
    bytes_per_day: int | None
    """Mean bytes of the selected files per listed day (None: the archive lists no sizes)."""
    rates_from: str
    """Where the sample rates of the channel choice came from."""
    sample_rate_hz: float | None = None
    """Mean raw sample rate of the chosen channels where known (None: no rates known)."""

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_days(days: Sequence[dt.date], n: int = SAMPLE_DAYS) -> list[dt.date]:
    """Up to ``n`` days spread evenly over ``days`` (first and last included)."""
    days = sorted(days)
    if len(days) <= n:
        return list(days)
    return sorted({days[round(i * (len(days) - 1) / (n - 1))] for i in range(n)})


def _scedc_index_rates(archive: Archive, day: dt.date) -> dict[ChannelId, float]:
    """Sample rates from SCEDC's daily CSV index, empty when there is none or it is unreadable."""
    from c4.sources.base import FileArchive
    from c4.sources.scedc import parse_scedc_name

    if not isinstance(archive, FileArchive) or archive.layout != "scedc":
        return {}
    doy = day.timetuple().tm_yday
    folder = f"continuous_waveforms/index/csv/year={day.year}/year_doy={day.year}_{doy:03d}"
    try:
        names = [o.key for o in archive.root.list_objects(folder) if o.key.endswith(".csv")]
        if not names:
            return {}
        text = archive.root.read_bytes(names[0]).decode()
        out = {}
        for row in csv.DictReader(io.StringIO(text)):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            parsed = parse_scedc_name(row.get("ms_filename", "").rsplit("/", 1)[-1])
            if parsed is not None and row.get("sample_rate"):
                out[parsed[0]] = float(row["sample_rate"])
        return out
    except Exception as exc:  # the index refines the channel choice; never required
        log.info("no usable SCEDC index in %s: %s", folder, exc)
        return {}


def _probe(archive: Archive) -> None:
    """One request, no retries, short timeouts: an unreachable S3 archive fails in seconds
    instead of after the run's patient retry policy."""
    from c4.objstore import split_s3
    from c4.sources.base import FileArchive

    if not isinstance(archive, FileArchive) or not archive.remote:
        return
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config as BotoConfig

    d = archive.data
    client = boto3.session.Session().client(
        "s3", endpoint_url=d.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                          read_timeout=10, signature_version=UNSIGNED if d.anonymous else None))
    bucket, prefix = split_s3(archive.root.url)
    client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)


def size_archive(config: Config, days: Sequence[dt.date]) -> ArchiveSize:
    """List :func:`sample_days` of ``days`` and count what a run would take (may raise)."""
    from c4.sources import open_archive
    from c4.stations import load_stations

    data = config.data.model_copy(update={"fdsn_retries": min(config.data.fdsn_retries, 1)})
    archive = open_archive(data)
    _probe(archive)
    stations = load_stations(config.data, archive)
    picked = sample_days(days)
    n_sta, n_cha, total, sized = 0, 0, 0, True
    rates_from = "band codes"
    chosen_rates: list[float] = []
    for day in picked:
        listing = archive.list_day(day)
        rates = _scedc_index_rates(archive, day)
        if rates:
            rates_from = "SCEDC index"
        elif stations.channels:
            rates = stations.rates_on(listing.channels, day)
            rates_from = "station metadata" if rates else rates_from
        chosen = select_channels(listing.channels, data, stations.known,
                                 sampling_rate=config.processing.sampling_rate, rates=rates)
        chosen_rates += [rates[c] for c in chosen if c in rates]
        n_sta = max(n_sta, len({c.station_id for c in chosen}))
        n_cha = max(n_cha, len(chosen))
        for c in chosen:
            for f in listing.files[c]:
                if f.size is None:
                    sized = False
                else:
                    total += f.size
    return ArchiveSize(archive.url, [d.isoformat() for d in picked], n_sta, n_cha,
                       round(total / len(picked)) if sized and picked else None, rates_from,
                       sum(chosen_rates) / len(chosen_rates) if chosen_rates else None)


def size_archive_within(config: Config, days: Sequence[dt.date], timeout_s: float = 30.0
                        ) -> tuple[ArchiveSize | None, str]:
    """:func:`size_archive` with a deadline: (size, "") or (None, why not)."""
    result: list[ArchiveSize] = []
    error: list[str] = []

    def work() -> None:
        try:
            result.append(size_archive(config, days))
        except Exception as exc:
            error.append(f"{type(exc).__name__}: {exc}".splitlines()[0])

    thread = threading.Thread(target=work, name="c4-archive-size", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if result:
        return result[0], ""
    if error:
        return None, f"could not size the campaign from {config.data.source}: {error[0]}"
    return None, (f"could not size the campaign from {config.data.source} within "
                  f"{timeout_s:.0f} s")
