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
from c4.objstore import Location, ObjectInfo, is_s3, join

log = logging.getLogger("c4.sources")

__all__ = [
    "Archive",
    "ChannelId",
    "DayListing",
    "FetchReport",
    "FileArchive",
    "SourceError",
    "day_of_year",
    "matches_selection",
    "parse_dotted_day",
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


@dataclass
class DayListing:
    """What listing one day of an archive found for the selection."""

    day: dt.date
    where: str
    """The folder, S3 prefix or service that was listed (URL)."""
    pattern: str
    """The key pattern files of the day must follow, e.g.
    ``continuous_waveforms/2024/2024_032/<NN><SSSSS><CCC><LLL>2024032.ms``."""
    files: dict[ChannelId, list[ObjectInfo]] = field(default_factory=dict)
    """Files of every channel that matches the selection (keys relative to the archive
    root), with sizes and version tags."""
    n_other: int = 0
    """Names listed there that do not follow the layout (ignored)."""
    n_unselected: int = 0
    """Files that follow the layout but whose channel the selection does not take (those
    seen: NCEDC and SDS do not open the folders of networks, stations or channels that the
    selection excludes)."""

    @property
    def channels(self) -> list[ChannelId]:
        return sorted(self.files)

    def keys(self, channel: ChannelId) -> list[str]:
        return [f.key for f in self.files.get(channel, [])]


@dataclass
class FetchReport:
    """What became of each requested file."""

    local: dict[str, Path] = field(default_factory=dict)
    """Key -> local path of every file fetched (or, on a local disk, the file itself)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Key -> the last error (one line) of every file that could not be fetched after
    retries. The day is *failed*."""
    no_data: dict[str, str] = field(default_factory=dict)
    """Key -> what the archive said, for requests answered without data (an FDSN 204/404):
    a data reason, the day can still be complete."""


class SourceError(RuntimeError):
    """The archive cannot be listed (one line naming ``data.source`` and the fix)."""


def day_of_year(day: dt.date) -> int:
    """1 for January 1st."""
    return day.timetuple().tm_yday


def parse_dotted_day(parts: list[str]) -> dt.date | None:
    """The day of a ``....D.YYYY.DDD`` file name split at dots (7 parts, data type ``D``), or
    None (the NCEDC and SDS names end this way)."""
    if len(parts) != 7 or parts[4] != "D":
        return None
    try:
        return dt.datetime.strptime(f"{parts[5]}{parts[6]}", "%Y%j").date()
    except ValueError:
        return None


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def matches_selection(ch: ChannelId, data: DataConfig) -> bool:
    """True when ``ch`` matches the network/station/location/channel patterns and components."""
    return (_matches(ch.network, data.network) and _matches(ch.station, data.station)
            and _matches(ch.location, data.location) and _matches(ch.channel, data.channel)
            and ch.component in data.components)


class Archive(ABC):
    """A source of channel-day files. Subclasses set :attr:`layout` and implement
    :meth:`list_day`, :meth:`fetch` and :meth:`day_pattern`."""

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
    def fetch(self, keys: Sequence[str], scratch: Path) -> FetchReport:
        """Make the listed ``keys`` local (below ``scratch`` when downloaded); never raises for
        one bad file: it is reported in :attr:`FetchReport.failed`."""

    @abstractmethod
    def day_pattern(self, day: dt.date) -> str:
        """The key pattern the day's files follow, e.g. ``continuous_waveforms/2024/2024_032/
        <NN><SSSSS><CCC><LLL>2024032.ms`` (for the message of an empty day)."""

    def missing_hint(self) -> str:
        """Why listing may have found nothing at all (``data.source`` missing, nothing stored
        below it), for the message of a shard with no files; "" when nothing is known."""
        return ""

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

    def missing_hint(self) -> str:
        if not self.remote:
            path = Path(self.root.url)
            if not path.exists():
                return f"data.source {path} does not exist (not mounted? mistyped?)"
            if not path.is_dir():
                return f"data.source {path} is not a folder"
        if not self.root.list_dirs() and not self.root.list_names():
            return f"nothing is stored below {self.root.url}/ (mistyped prefix?)"
        return ""

    def listing(self, day: dt.date, folder: str) -> DayListing:
        """An empty listing of ``day`` that looked in ``folder`` (relative)."""
        return DayListing(day, f"{join(self.root.url, folder)}/", self.day_pattern(day))

    def fetch(self, keys: Sequence[str], scratch: Path) -> FetchReport:
        """Local files are used in place (one that vanished since the listing fails); S3 files
        are downloaded to ``scratch/<key>`` by ``data.download_workers`` threads, each with
        retries and back-off."""
        out = FetchReport()
        if not self.remote:
            for k in keys:
                path = self.root.local_path(k)
                if path.is_file():
                    out.local[k] = path
                else:
                    out.failed[k] = "the file disappeared after the listing"
                    log.warning("cannot read file %s: gone since the listing", path)
            return out

        def one(key: str) -> tuple[str, Path | None, str]:
            try:
                return key, self.root.get(key, scratch / key), ""
            except Exception as exc:
                return key, None, str(exc) or type(exc).__name__

        with ThreadPoolExecutor(max_workers=self.data.download_workers) as pool:
            for key, got, err in pool.map(one, keys):
                if got is not None:
                    out.local[key] = got
                else:
                    log.warning("download of %s failed after retries: %s", key, err)
                    out.failed[key] = err
        return out
