"""Waveform archives: list a day's channel files, choose channels, fetch files to scratch.

Layouts (``data.layout``), each a class implementing :class:`Archive` (see
``docs/sources.md`` for example sources and metadata):

- ``scedc`` (:mod:`c4.sources.scedc`): ``continuous_waveforms/YYYY/YYYY_DDD/<NN><SSSSS><CCC>
  <LLL><YYYYDDD>.ms``, on S3 (``s3://scedc-pds``) or disk;
- ``ncedc`` (:mod:`c4.sources.ncedc`): ``continuous_waveforms/NET/YYYY/YYYY.DDD/
  STA.NET.CHA.LOC.D.YYYY.DDD``, on S3 (``s3://ncedc-pds``) or disk;
- ``sds`` (:mod:`c4.sources.sds`): ``YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY``, on disk or
  S3;
- ``fdsn`` (:mod:`c4.sources.fdsn`): FDSN dataselect and station web services.

Channel choice: :func:`select_channels` (:mod:`c4.sources.select`).
"""

from __future__ import annotations

from c4.config import DataConfig
from c4.objstore import Location
from c4.sources.base import (
    Archive,
    ChannelId,
    DayListing,
    FetchReport,
    FileArchive,
    SourceError,
    matches_selection,
)
from c4.sources.fdsn import FdsnArchive
from c4.sources.ncedc import NcedcArchive, ncedc_key, ncedc_name, parse_ncedc_name
from c4.sources.scedc import ScedcArchive, parse_scedc_name, scedc_key, scedc_name
from c4.sources.sds import SdsArchive, parse_sds_name, sds_key
from c4.sources.select import select_channels

__all__ = [
    "Archive",
    "ChannelId",
    "DayListing",
    "FdsnArchive",
    "FetchReport",
    "FileArchive",
    "NcedcArchive",
    "ScedcArchive",
    "SdsArchive",
    "SourceError",
    "matches_selection",
    "ncedc_key",
    "ncedc_name",
    "open_archive",
    "parse_ncedc_name",
    "parse_scedc_name",
    "parse_sds_name",
    "scedc_key",
    "scedc_name",
    "sds_key",
    "select_channels",
]

_FILE_LAYOUTS: dict[str, type[FileArchive]] = {
    "scedc": ScedcArchive, "ncedc": NcedcArchive, "sds": SdsArchive,
}


def open_archive(data: DataConfig, cache: Location | None = None) -> Archive:
    """The archive of ``data.layout`` at ``data.source``; ``cache`` (the output store) keeps
    what a web-service source fetches once per campaign (its station metadata)."""
    if data.layout == "fdsn":
        return FdsnArchive(data, cache)
    return _FILE_LAYOUTS[data.layout](data)
