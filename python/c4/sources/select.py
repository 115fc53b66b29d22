"""Which channels of a day to correlate: the patterns, then one (location, band) per station.

Channels must match the network, station, location and channel patterns and one of the
components; a station without metadata is skipped (logged once). When a station offers several
band/instrument codes (``HH``, ``BH``) or location codes, one is chosen, and all components of
the station come from that one (location, band) choice:

- ``data.channel_priority = []`` (the default): the code with the **lowest sampling rate that
  still covers** ``processing.sampling_rate``. Everything above the target rate is thrown away by
  the anti-alias filter and decimation, so a 40 Hz BH channel gives the same 20 Hz record as a
  100 Hz HH channel of the same sensor, for about 2.5x fewer bytes to download and decode and
  about 4x less preprocessing (NoisePy's cloud cost notes make the same point). The rate of a
  channel is its sample rate in the StationXML epoch of the day when known, else the lowest rate
  its SEED band code allows (``B``: 10 Hz, ``H``: 80 Hz, see :data:`BAND_MIN_RATE_HZ`), so a code
  is never chosen on a guess that it might be fast enough. At equal rates broadband codes (``B``,
  ``H``, ``C``, ``F``: corner period >= 10 s) win over short-period ones, then the code
  alphabetically. If no code covers the target, the fastest one is taken.
- an explicit list (``["HH", "BH"]``): the code listed first wins (unlisted ones come after,
  alphabetically).

Then the lowest location code wins (the empty code first).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from c4.config import DataConfig
from c4.sources.base import ChannelId, matches_selection

log = logging.getLogger("c4.sources")

__all__ = ["BAND_MIN_RATE_HZ", "channel_rate", "select_channels"]

BAND_MIN_RATE_HZ: dict[str, float] = {
    "F": 1000.0, "G": 1000.0, "D": 250.0, "C": 250.0, "E": 80.0, "H": 80.0, "S": 10.0,
    "B": 10.0, "M": 1.0, "L": 1.0, "V": 0.1, "U": 0.01, "R": 1e-4, "P": 1e-5, "T": 1e-6,
}
"""Lowest sampling rate (Hz) of each SEED band code (SEED manual, appendix A)."""

_BROADBAND = set("BHCF")


def channel_rate(ch: ChannelId, rates: Mapping[ChannelId, float] | None = None) -> float:
    """Sampling rate of ``ch`` in Hz: from ``rates`` (metadata) when known, else the lowest
    rate its band code allows (0 for an unknown code)."""
    if rates is not None and ch in rates:
        return float(rates[ch])
    return BAND_MIN_RATE_HZ.get(ch.channel[:1], 0.0)


def _auto_key(chans: list[ChannelId], target: float, rates: Mapping[ChannelId, float] | None
              ) -> tuple[int, float, int, str]:
    rate = min(channel_rate(c, rates) for c in chans)
    band = chans[0].channel[:2]
    broadband = 0 if band[:1] in _BROADBAND else 1
    if rate >= target * (1 - 1e-6):
        return (0, rate, broadband, band)
    return (1, -rate, broadband, band)


def select_channels(
    channels: Iterable[ChannelId], data: DataConfig, known_stations: set[str] | None = None,
    *, sampling_rate: float, rates: Mapping[ChannelId, float] | None = None,
) -> list[ChannelId]:
    """Apply the patterns, components and the per-station choice (see the module docstring);
    ``sampling_rate`` is ``processing.sampling_rate`` in Hz, ``rates`` the channels' sample
    rates from metadata. Returns the chosen channels sorted by id."""
    by_station: dict[str, list[ChannelId]] = {}
    missing: set[str] = set()
    for ch in channels:
        if not matches_selection(ch, data):
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
        groups: dict[tuple[str, str], list[ChannelId]] = {}
        for c in chans:
            groups.setdefault((c.location, c.channel[:2]), []).append(c)
        if prio:
            best = min(groups, key=lambda lb: (prio.get(lb[1], len(prio)), lb[1], lb[0]))
        else:
            best = min(groups, key=lambda lb: (*_auto_key(groups[lb], sampling_rate, rates),
                                               lb[0]))
        chosen += groups[best]
    return sorted(set(chosen))
