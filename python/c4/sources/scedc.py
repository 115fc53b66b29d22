"""SCEDC layout: ``continuous_waveforms/YYYY/YYYY_DDD/<NN><SSSSS><CCC><LLL><YYYYDDD>.ms``.

The network in 2 characters, the station padded with ``_`` to 5, the channel in 3 and the
location padded to 3 (``CIBAK__BHZ___2024032.ms``), one folder per day for every network. This
is the public ``s3://scedc-pds`` bucket (us-west-2, read unsigned) and any copy of it on disk.
StationXML sits in ``FDSNstationXML/CI/CI_BAK.xml``; stations of other networks, which the SCEDC
archives but does not operate, in ``FDSNstationXML/unauthoritative-XML/`` (see
:mod:`c4.stations`).
"""

from __future__ import annotations

import datetime as dt

from c4.sources.base import (
    ChannelId,
    DayListing,
    FileArchive,
    day_of_year,
    matches_selection,
)

__all__ = ["ScedcArchive", "parse_scedc_name", "scedc_dir", "scedc_key", "scedc_name"]


def scedc_name(ch: ChannelId, day: dt.date) -> str:
    """SCEDC file name of a channel-day, e.g. ``CIBAK__BHZ___2024032.ms``."""
    return (f"{ch.network:_<2}{ch.station:_<5}{ch.channel:_<3}{ch.location:_<3}"
            f"{day.year:04d}{day_of_year(day):03d}.ms")


def scedc_dir(day: dt.date) -> str:
    """``continuous_waveforms/YYYY/YYYY_DDD``."""
    return f"continuous_waveforms/{day.year:04d}/{day.year:04d}_{day_of_year(day):03d}"


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


class ScedcArchive(FileArchive):
    """The SCEDC layout, on disk or S3: one listing of the day folder per day."""

    layout = "scedc"

    def day_pattern(self, day: dt.date) -> str:
        return f"{scedc_dir(day)}/<NN><SSSSS><CCC><LLL>{day.year:04d}{day_of_year(day):03d}.ms"

    def list_day(self, day: dt.date) -> DayListing:
        out = self.listing(day, scedc_dir(day))
        for obj in self.root.list_objects(scedc_dir(day)):
            parsed = parse_scedc_name(obj.key.rsplit("/", 1)[-1])
            if parsed is None or parsed[1] != day:
                out.n_other += 1
            elif not matches_selection(parsed[0], self.data):
                out.n_unselected += 1
            else:
                out.files.setdefault(parsed[0], []).append(obj)
        return out
