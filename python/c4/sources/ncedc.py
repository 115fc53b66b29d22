"""NCEDC layout: ``continuous_waveforms/NET/YYYY/YYYY.DDD/STA.NET.CHA.LOC.D.YYYY.DDD``.

One folder per network, year and day; file names put the station first and keep an empty
location code empty (``BRK.BK.HHZ.00.D.2024.032``, ``AFD.NC.HHZ..D.2022.002``). This is the
public ``s3://ncedc-pds`` bucket (us-east-2, read unsigned) and any copy of it on disk.
StationXML sits in ``FDSNstationXML/NET/NET.STA.xml`` (a dot, where the SCEDC uses ``_``).
A day is one listing per network folder (the network folders are listed once).
"""

from __future__ import annotations

import datetime as dt
import fnmatch

from c4.config import DataConfig
from c4.sources.base import (
    ChannelId,
    DayListing,
    FileArchive,
    day_of_year,
    matches_selection,
    parse_dotted_day,
)

__all__ = ["NcedcArchive", "ncedc_dir", "ncedc_key", "ncedc_name", "parse_ncedc_name"]


def ncedc_name(ch: ChannelId, day: dt.date) -> str:
    """NCEDC file name of a channel-day, e.g. ``BRK.BK.HHZ.00.D.2024.032``."""
    return (f"{ch.station}.{ch.network}.{ch.channel}.{ch.location}.D."
            f"{day.year:04d}.{day_of_year(day):03d}")


def ncedc_dir(network: str, day: dt.date) -> str:
    """``continuous_waveforms/NET/YYYY/YYYY.DDD``."""
    return f"continuous_waveforms/{network}/{day.year:04d}/{day.year:04d}.{day_of_year(day):03d}"


def ncedc_key(ch: ChannelId, day: dt.date) -> str:
    """Key of a channel-day below the archive root in the NCEDC layout."""
    return f"{ncedc_dir(ch.network, day)}/{ncedc_name(ch, day)}"


def parse_ncedc_name(name: str) -> tuple[ChannelId, dt.date] | None:
    """Inverse of :func:`ncedc_name`; ``None`` for a name that does not follow the layout."""
    parts = name.split(".")
    day = parse_dotted_day(parts)
    if day is None or not all(parts[i] for i in (0, 1, 2)):
        return None
    return ChannelId(parts[1], parts[0], parts[3], parts[2]), day


class NcedcArchive(FileArchive):
    """The NCEDC layout, on disk or S3."""

    layout = "ncedc"

    def __init__(self, data: DataConfig) -> None:
        super().__init__(data)
        self._networks: list[str] | None = None

    def networks(self) -> list[str]:
        """Network folders below ``continuous_waveforms/`` that match ``data.network``."""
        if self._networks is None:
            self._networks = [n for n in self.root.list_dirs("continuous_waveforms")
                              if any(fnmatch.fnmatchcase(n, p) for p in self.data.network)]
        return self._networks

    def day_pattern(self, day: dt.date) -> str:
        return (f"{ncedc_dir('<NET>', day)}/<STA>.<NET>.<CHA>.<LOC>.D."
                f"{day.year:04d}.{day_of_year(day):03d}")

    def list_day(self, day: dt.date) -> DayListing:
        out = self.listing(day, ncedc_dir("<NET>", day))
        for net in self.networks():
            for obj in self.root.list_objects(ncedc_dir(net, day)):
                parsed = parse_ncedc_name(obj.key.rsplit("/", 1)[-1])
                if parsed is None or parsed[1] != day or parsed[0].network != net:
                    out.n_other += 1
                elif not matches_selection(parsed[0], self.data):
                    out.n_unselected += 1
                else:
                    out.files.setdefault(parsed[0], []).append(obj)
        return out
