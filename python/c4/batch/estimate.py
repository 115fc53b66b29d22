"""Run-size and cost estimate printed by ``c4 submit --dry-run`` (no network).

vCPU time of one shard = channel-days x (preprocessing + whitening per channel-day)
+ pair-days x (correlation per pair-day). The per-unit costs are the calibration below:

- :data:`WHITEN_VCPU_S_PER_CHANNEL_DAY` and :data:`CORRELATE_VCPU_S_PER_PAIR_DAY` come from the
  ``whiten`` (channel-days/s) and ``correlate`` (pair-days/s) groups of
  ``benches/test_bench_kernels.py`` at NoisePy's defaults (20 Hz, cc_len 1800 s, step 450 s,
  0.05-2 Hz; see ``benches/RESULTS.md``: 19-26 ms per channel-day and 0.19-0.24 ms per pair-day
  on one core of the machines measured), rounded up to leave room for stacking and writing;
- :data:`PREPROCESS_VCPU_S_PER_CHANNEL_DAY` covers download, miniSEED decoding, merging and
  resampling with obspy: the pipeline bench measured ~0.4 vCPU-s for a 20 Hz channel-day, and a
  100 Hz broadband day decodes and resamples about five times as many samples; it dominates
  unless the network is large.

``batch.vcpu_seconds_per_channel_day`` replaces the two per-channel terms when set (e.g. from the
log of a real run). Pairs are all channel pairs (an upper bound: ``max_distance_km`` is not
applied without station coordinates). Cost = vCPU-hours x the config's Spot and on-demand prices
per vCPU-hour; instances are never perfectly packed, so treat it as a lower bound of the bill.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from c4.config import Config
from c4.shards import shard_days

WHITEN_VCPU_S_PER_CHANNEL_DAY = 0.03
"""Windowing, FFT and whitening of one channel-day, vCPU-seconds (benches: whiten)."""
CORRELATE_VCPU_S_PER_PAIR_DAY = 0.0003
"""Correlation and stacking of one pair-day, vCPU-seconds (benches: correlate)."""
PREPROCESS_VCPU_S_PER_CHANNEL_DAY = 2.0
"""Download, decoding, merge and resampling of one channel-day with obspy, vCPU-seconds."""


@dataclass(frozen=True)
class Estimate:
    """Size and cost of a run; station/pair figures are None when the station count is unknown."""

    shards: int
    days: int
    stations: int | None
    station_days: int | None
    channel_days: int | None
    pair_days: int | None
    vcpu_hours: float | None
    spot_cost_usd: float | None
    on_demand_cost_usd: float | None
    wall_hours_per_shard: float | None

    def to_json_dict(self) -> dict[str, Any]:
        """Plain dict for the dry-run JSON."""
        return asdict(self)


def pairs_per_day(config: Config, stations: int) -> int:
    """Channel pairs correlated per day for ``stations`` stations (all distances)."""
    n_comp = len(config.data.components)
    channels = stations * n_comp
    if config.processing.cross_components:
        pairs = channels * (channels - 1) // 2
    else:
        pairs = n_comp * stations * (stations - 1) // 2
    return pairs + (channels if config.processing.autocorr else 0)


def estimate(config: Config, shards: list[int], stations: int | None,
             channels: int | None = None) -> Estimate:
    """Estimate for running ``shards`` of ``config`` on ``stations`` stations (``channels``
    per day when known, e.g. from the archive; else stations x components)."""
    days = sum(len(shard_days(config, s)) for s in shards)
    if stations is None:
        return Estimate(len(shards), days, None, None, None, None, None, None, None, None)
    cfg = config.batch
    per_day = channels if channels is not None else stations * len(config.data.components)
    channel_days = days * per_day
    pair_days = days * pairs_per_day(config, stations)
    per_channel = cfg.vcpu_seconds_per_channel_day or (
        PREPROCESS_VCPU_S_PER_CHANNEL_DAY + WHITEN_VCPU_S_PER_CHANNEL_DAY
    )
    vcpu_hours = (channel_days * per_channel + pair_days * CORRELATE_VCPU_S_PER_PAIR_DAY) / 3600
    per_shard = vcpu_hours / max(len(shards), 1) / cfg.vcpus
    return Estimate(
        shards=len(shards),
        days=days,
        stations=stations,
        station_days=days * stations,
        channel_days=channel_days,
        pair_days=pair_days,
        vcpu_hours=round(vcpu_hours, 2),
        spot_cost_usd=round(vcpu_hours * cfg.spot_price_per_vcpu_hour, 2),
        on_demand_cost_usd=round(vcpu_hours * cfg.on_demand_price_per_vcpu_hour, 2),
        wall_hours_per_shard=round(per_shard, 2),
    )


def count_stations(config: Config) -> int | None:
    """Stations in the config's local station metadata, or None (S3 or unreadable: no network)."""
    source = config.data.stations
    if not source or source.startswith("s3://"):
        return None
    try:
        from c4.stations import load_stations

        return len(load_stations(config.data).known) or None
    except Exception:  # metadata is optional for an estimate; never fail a dry run on it
        return None
