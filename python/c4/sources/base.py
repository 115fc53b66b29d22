"""The archive interface every layout implements, and what a listing and a fetch report.

An :class:`Archive` answers two questions for one day:

- :meth:`Archive.list_day`: which files hold that day's data for the channels the
  configuration selects (``data.network``, ``station``, ``location``, ``channel`` and
  ``components``), each with its size and ETag when the archive knows them (the day's input
  fingerprint is built from these);
- :meth:`Archive.fetch`: put those files on local disk (scratch) and say, for every file, whether
  it was fetched, held no data, or could not be fetched after retries. A day with a failed file
  must not be marked complete.

File archives (SCEDC, NCEDC, SDS; on disk or S3) share :class:`FileArchive`; the FDSN web-service
source (:mod:`c4.sources.fdsn`) downloads one day-long request per channel instead.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from c4.config import DataConfig
from c4.objstore import Entry, Location, is_s3, join

log = logging.getLogger("c4.sources")

__all__ = [
    "Archive",
    "ChannelId",
    "DayListing",
    "FetchResult",
    "FileArchive",
    "ListedFile",
    "matches_selection",
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


@dataclass(frozen=True, order=True)
class ListedFile:
    """One file (or one web-service request) holding a channel-day."""

    key: str
    """Key below the archive root (FDSN: a name for the request, also its scratch path)."""
    size: int | None = None
    """Bytes, when the archive lists them (None: unknown before download)."""
    etag: str | None = None
    """S3 ETag, or the modification time in ns on disk (None: unknown)."""

    @classmethod
    def from_entry(cls, entry: Entry, prefix: str = "") -> ListedFile:
        return cls(join(prefix, entry.key) if prefix else entry.key, entry.size, entry.etag)


DayListing = dict[ChannelId, list[ListedFile]]
"""A day's files per channel."""


@dataclass
class FetchResult:
    """What became of each requested file."""

    paths: dict[str, Path] = field(default_factory=dict)
    """Fetched files: key -> local path."""
    no_data: dict[str, str] = field(default_factory=dict)
    """Answered, but without data (an FDSN 204/404): key -> what the archive said."""
    failed: dict[str, str] = field(default_factory=dict)
    """Not fetched after retries: key -> the last error. The day is *failed*."""

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def matches_selection(ch: ChannelId, data: DataConfig) -> bool:
    """True when ``ch`` matches the network/station/location/channel patterns and components."""
    return (_matches(ch.network, data.network) and _matches(ch.station, data.station)
            and _matches(ch.location, data.location) and _matches(ch.channel, data.channel)
            and ch.component in data.components)


class Archive(ABC):
    """A source of channel-day files. Subclasses set :attr:`layout` and implement
    :meth:`list_day`, :meth:`fetch` and :meth:`key_pattern`."""

    layout: ClassVar[str]

    def __init__(self, data: DataConfig) -> None:
        self.data = data

    @property
    def url(self) -> str:
        """Where the archive is (a path, an ``s3://`` prefix or a web-service URL)."""
        return self.data.source

    @property
    def remote(self) -> bool:
        """True when files are downloaded (S3, web services), False when read in place."""
        return True

    @abstractmethod
    def list_day(self, day: dt.date) -> DayListing:
        """The day's files of every channel that matches the configured selection."""

    @abstractmethod
    def fetch(self, files: Sequence[ListedFile], scratch: Path) -> FetchResult:
        """Make ``files`` local (below ``scratch`` when downloaded); never raises for one bad
        file: it is reported in :attr:`FetchResult.failed`."""

    @abstractmethod
    def key_pattern(self, day: dt.date) -> str:
        """Where the day's files are expected, e.g. for the message of an empty day."""

    def default_stations(self) -> str:
        """Station metadata used when ``data.stations`` is empty: ``<source>/FDSNstationXML``
        (the SCEDC and NCEDC convention)."""
        return join(self.url, "FDSNstationXML")

    def station_inventory(self) -> Any | None:
        """Station metadata the archive serves itself (an obspy ``Inventory``; the FDSN station
        service), or None when it comes from ``data.stations`` / :meth:`default_stations`."""
        return None


class FileArchive(Archive):
    """An archive of day files below one root (local directory or S3 prefix)."""

    def __init__(self, data: DataConfig) -> None:
        super().__init__(data)
        self.root = Location(data.source.rstrip("/") or data.source, anonymous=data.anonymous,
                             endpoint_url=data.endpoint_url)

    @property
    def remote(self) -> bool:
        return is_s3(self.root.url)

    def key_pattern(self, day: dt.date) -> str:
        return join(self.root.url, self.day_pattern(day))

    @abstractmethod
    def day_pattern(self, day: dt.date) -> str:
        """Relative key pattern of the day's files, e.g. ``continuous_waveforms/2024/
        2024_032/<NN><SSSSS><CCC><LLL>2024032.ms``."""

    def fetch(self, files: Sequence[ListedFile], scratch: Path) -> FetchResult:
        """Local files are used in place (one that vanished since the listing fails); S3 files
        are downloaded to ``scratch/<key>`` by ``data.download_workers`` threads, each with
        retries and back-off."""
        out = FetchResult()
        keys = [f.key for f in files]
        if not self.remote:
            for k in keys:
                path = self.root.local_path(k)
                if path.is_file():
                    out.paths[k] = path
                else:
                    out.failed[k] = "file vanished after the listing"
            return out

        def one(key: str) -> tuple[str, Path | None, str]:
            try:
                return key, self.root.get(key, scratch / key), ""
            except Exception as exc:
                return key, None, str(exc) or type(exc).__name__

        with ThreadPoolExecutor(max_workers=self.data.download_workers) as pool:
            for key, got, err in pool.map(one, keys):
                if got is not None:
                    out.paths[key] = got
                else:
                    log.warning("download of %s failed after retries: %s", key, err)
                    out.failed[key] = err
        return out
