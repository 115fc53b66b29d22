"""SDS layout (SeisComP Data Structure): ``YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY``.

On disk or S3 (many groups keep their SDS archive in a bucket). A channel folder holds all days
of a year, and the location code sits inside the file name, so a day cannot be listed by one
prefix: the archive walks ``YEAR/`` once (only into network, station and channel folders that
match the selection) and lists each matching channel folder once, keeping the files of a window
of :data:`WINDOW_DAYS` days from the first day asked for (a month shard is one walk; S3 pays one
LIST per channel folder and month).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable

from c4.config import DataConfig
from c4.objstore import ObjectInfo
from c4.sources.base import (
    ChannelId,
    DayListing,
    FileArchive,
    day_of_year,
    matches_selection,
    parse_dotted_day,
)

__all__ = ["WINDOW_DAYS", "SdsArchive", "parse_sds_name", "sds_key"]

WINDOW_DAYS = 32
"""Days of listings kept from one walk of a year folder."""


def sds_key(ch: ChannelId, day: dt.date) -> str:
    """Key of a channel-day below the archive root in the SDS layout."""
    return (f"{day.year:04d}/{ch.network}/{ch.station}/{ch.channel}.D/"
            f"{ch.id}.D.{day.year:04d}.{day_of_year(day):03d}")


def parse_sds_name(name: str) -> tuple[ChannelId, dt.date] | None:
    """``NET.STA.LOC.CHA.D.YEAR.DOY`` -> (channel, day); ``None`` otherwise."""
    parts = name.split(".")
    day = parse_dotted_day(parts)
    if day is None or not all(parts[i] for i in (0, 1, 3)):
        return None
    return ChannelId(*parts[:4]), day


def _matching(names: Iterable[str], patterns: list[str]) -> list[str]:
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


class SdsArchive(FileArchive):
    """The SDS layout, on disk or S3."""

    layout = "sds"

    def __init__(self, data: DataConfig) -> None:
        super().__init__(data)
        self._window: tuple[dt.date, dt.date] | None = None
        self._days: dict[dt.date, dict[ChannelId, list[ObjectInfo]]] = {}
        self._other: dict[dt.date, tuple[int, int]] = {}

    def day_pattern(self, day: dt.date) -> str:
        return f"{day.year:04d}/<NET>/<STA>/<CHA>.D/<NET>.<STA>.<LOC>.<CHA>.D.{day.year:04d}." \
               f"{day_of_year(day):03d}"

    def channel_folders(self, year: int) -> list[str]:
        """``YEAR/NET/STA/CHA.D`` folders matching the selection."""
        d = self.data
        out = []
        for net in _matching(self.root.list_dirs(f"{year:04d}"), d.network):
            for sta in _matching(self.root.list_dirs(f"{year:04d}/{net}"), d.station):
                for folder in self.root.list_dirs(f"{year:04d}/{net}/{sta}"):
                    cha, _, kind = folder.partition(".")
                    if kind == "D" and cha[-1:] in d.components and _matching([cha], d.channel):
                        out.append(f"{year:04d}/{net}/{sta}/{folder}")
        return out

    def _walk(self, first: dt.date) -> None:
        last = min(first + dt.timedelta(days=WINDOW_DAYS - 1), dt.date(first.year, 12, 31))
        days: dict[dt.date, dict[ChannelId, list[ObjectInfo]]] = {}
        other: dict[dt.date, list[int]] = {}
        for folder in self.channel_folders(first.year):
            net, sta, cha_d = folder.split("/")[1:]
            for obj in self.root.list_objects(folder):
                parsed = parse_sds_name(obj.key.rsplit("/", 1)[-1])
                if parsed is None:
                    continue
                ch, day = parsed
                if not first <= day <= last:
                    continue
                if (ch.network, ch.station) != (net, sta) or f"{ch.channel}.D" != cha_d:
                    other.setdefault(day, [0, 0])[0] += 1
                elif not matches_selection(ch, self.data):
                    other.setdefault(day, [0, 0])[1] += 1
                else:
                    days.setdefault(day, {}).setdefault(ch, []).append(obj)
        self._window, self._days = (first, last), days
        self._other = {d: (a, b) for d, (a, b) in other.items()}

    def list_day(self, day: dt.date) -> DayListing:
        if self._window is None or not self._window[0] <= day <= self._window[1]:
            self._walk(day)
        out = self.listing(day, f"{day.year:04d}")
        out.files = {ch: list(files) for ch, files in self._days.get(day, {}).items()}
        out.n_other, out.n_unselected = self._other.get(day, (0, 0))
        return out
