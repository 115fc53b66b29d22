"""Waveform archives: list a day's channel files, choose channels, fetch files to scratch.

Layouts (``data.layout``):

- ``scedc``: ``continuous_waveforms/YYYY/YYYY_DDD/<NN><SSSSS><CCC><LLL><YYYYDDD>.ms``, the
  network in 2 characters, the station padded with ``_`` to 5, the location to 3
  (``CIBAK__BHZ___2024032.ms``), on S3 (the public ``scedc-pds`` bucket) or on disk.
- ``sds``: ``YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY`` on disk (SeisComP Data Structure).

Channel choice (:func:`select_channels`), deterministic: channels must match the network,
station, location and channel patterns and one of the components; a station without metadata
is skipped (logged once). When a station offers several band/instrument codes (``HH``, ``BH``)
or location codes, the code listed first in ``data.channel_priority`` wins (unlisted ones come
after, alphabetically), then the lowest location code (the empty code first); all components of
the station come from that one (location, band) choice.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from c4.config import DataConfig
from c4.objstore import Location, is_s3

log = logging.getLogger(__name__)

__all__ = [
    "Archive",
    "ChannelId",
    "parse_scedc_name",
    "scedc_key",
    "sds_key",
    "select_channels",
]


class ChannelId(NamedTuple):
    """A SEED channel: network, station, location (may be ''), channel code."""

    network: str
    station: str
    location: str
    channel: str

    @property
    def id(self) -> str:
        """``NET.STA.LOC.CHA``."""
        return ".".join(self)

    @property
    def station_id(self) -> str:
        """``NET.STA``."""
        return f"{self.network}.{self.station}"

    @property
    def component(self) -> str:
        return self.channel[-1]

    @classmethod
    def parse(cls, text: str) -> ChannelId:
        net, sta, loc, cha = text.split(".")
        return cls(net, sta, loc, cha)


def scedc_name(ch: ChannelId, day: dt.date) -> str:
    """SCEDC file name of a channel-day, e.g. ``CIBAK__BHZ___2024032.ms``."""
    doy = day.timetuple().tm_yday
    return (f"{ch.network:_<2}{ch.station:_<5}{ch.channel:_<3}{ch.location:_<3}"
            f"{day.year:04d}{doy:03d}.ms")


def scedc_dir(day: dt.date) -> str:
    """``continuous_waveforms/YYYY/YYYY_DDD``."""
    return f"continuous_waveforms/{day.year:04d}/{day.year:04d}_{day.timetuple().tm_yday:03d}"


def scedc_key(ch: ChannelId, day: dt.date) -> str:
    """Key of a channel-day below the archive root in the SCEDC layout."""
    return f"{scedc_dir(day)}/{scedc_name(ch, day)}"


def parse_scedc_name(name: str) -> tuple[ChannelId, dt.date] | None:
    """Inverse of :func:`scedc_name`; ``None`` for a name that does not follow the layout."""
    if len(name) != 23 or not name.endswith(".ms"):
        return None
    try:
        day = dt.datetime.strptime(name[13:20], "%Y%j").date()
    except ValueError:
        return None
    ch = ChannelId(name[0:2].rstrip("_"), name[2:7].rstrip("_"), name[10:13].rstrip("_"),
                   name[7:10])
    return ch, day


def sds_key(ch: ChannelId, day: dt.date) -> str:
    """Key of a channel-day below the archive root in the SDS layout."""
    doy = day.timetuple().tm_yday
    return (f"{day.year:04d}/{ch.network}/{ch.station}/{ch.channel}.D/"
            f"{ch.id}.D.{day.year:04d}.{doy:03d}")


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def select_channels(
    channels: Iterable[ChannelId], data: DataConfig, known_stations: set[str] | None = None,
) -> list[ChannelId]:
    """Apply the patterns, components and the per-station choice; sorted by channel id."""
    by_station: dict[str, list[ChannelId]] = {}
    missing: set[str] = set()
    for ch in channels:
        if not (_matches(ch.network, data.network) and _matches(ch.station, data.station)
                and _matches(ch.location, data.location) and _matches(ch.channel, data.channel)
                and ch.component in data.components):
            continue
        if known_stations is not None and ch.station_id not in known_stations:
            missing.add(ch.station_id)
            continue
        by_station.setdefault(ch.station_id, []).append(ch)
    for sta in sorted(missing):
        log.warning("station %s has no metadata, skipping it", sta)
    prio = {code: i for i, code in enumerate(data.channel_priority)}
    chosen: list[ChannelId] = []
    for chans in by_station.values():
        options = sorted({(c.location, c.channel[:2]) for c in chans},
                         key=lambda lb: (prio.get(lb[1], len(prio)), lb[1], lb[0]))
        loc, band = options[0]
        chosen += [c for c in chans if c.location == loc and c.channel[:2] == band]
    return sorted(set(chosen))


class Archive:
    """A waveform archive (local or S3) in the SCEDC or SDS layout."""

    def __init__(self, data: DataConfig) -> None:
        self.data = data
        self.layout = data.layout
        self.root = Location(data.source, anonymous=data.anonymous,
                             endpoint_url=data.endpoint_url)
        if self.layout == "sds" and is_s3(data.source):
            raise ValueError("data.layout: sds archives must be on a local disk; allowed for "
                             "S3: scedc")

    @property
    def remote(self) -> bool:
        return is_s3(self.root.url)

    def list_day(self, day: dt.date) -> dict[ChannelId, list[str]]:
        """Files of ``day`` per channel (keys relative to the archive root), unfiltered."""
        out: dict[ChannelId, list[str]] = {}
        if self.layout == "scedc":
            folder = scedc_dir(day)
            for name in self.root.list_names(folder):
                parsed = parse_scedc_name(name)
                if parsed is None or parsed[1] != day:
                    continue
                out.setdefault(parsed[0], []).append(f"{folder}/{name}")
            return out
        root = Path(self.root.url)
        doy = day.timetuple().tm_yday
        pattern = f"{day.year:04d}/*/*/*.D/*.D.{day.year:04d}.{doy:03d}"
        for path in sorted(root.glob(pattern)):
            parts = path.name.split(".")
            if len(parts) != 7:
                continue
            ch = ChannelId(*parts[:4])
            out.setdefault(ch, []).append(path.relative_to(root).as_posix())
        return out

    def fetch(self, keys: list[str], scratch: Path) -> dict[str, Path]:
        """Local paths of ``keys``: downloaded to ``scratch`` in parallel for S3 (with
        retries), the files themselves on disk. A key that cannot be fetched is logged and
        left out."""
        if not self.remote:
            return {k: self.root.local_path(k) for k in keys}

        def one(key: str) -> tuple[str, Path | None]:
            try:
                return key, self.root.get(key, scratch / key)
            except Exception as exc:
                log.warning("skipping file %s: download failed: %s", key, exc)
                return key, None

        with ThreadPoolExecutor(max_workers=self.data.download_workers) as pool:
            got = list(pool.map(one, keys))
        return {k: p for k, p in got if p is not None}
