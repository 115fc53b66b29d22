"""Run-size, cost and timeout estimate printed by ``c4 submit --dry-run`` (no network).

The input is a :class:`CampaignSize` (stations, channels, the raw sampling rate) and the shards;
whatever knows the archive (``--stations``, local station metadata, an archive index) builds it.

vCPU time of one shard = channel-days x (preprocessing + spectra per channel-day)
+ pair-days x (correlation, writing and stacking per pair-day + ``batch.vcpus`` x the
single-threaded seconds per pair-day). The per-unit costs are the calibration below, measured
on one real-rate day through the shard code (``benches/RESULTS.md``, "Scale rehearsal" and
"Raw-rate input"):

- :data:`WHITEN_VCPU_S_PER_CHANNEL_DAY` and :data:`CORRELATE_VCPU_S_PER_PAIR_DAY`: CPU seconds
  of the spectra stage per channel-day and of the correlate, write and stack stages per
  pair-day in ``benches/test_bench_scale.py`` (NoisePy's defaults: 20 Hz, cc_len 1800 s,
  step 450 s, 0.05-2 Hz, the QC day pass; 56-57 ms per channel-day and 1.2-1.5 ms per
  pair-day at 256 and 512 channels, most of it the shard stack), rounded up;
- :data:`SERIAL_S_PER_PAIR_DAY`: the seconds per pair-day in which only one thread of the
  process works: the shard stack's serial part (the same benchmark's serial share, 23-28 % of
  the wall time at 256 and 512 channels, ~0.3 ms per pair-day on an unloaded core) and the
  writer of the daily files (0.18-0.42 ms per pair-day on one thread; on 2 vCPUs it hides behind
  the correlation, on 32 it no longer does); while it runs the other vCPUs of the child idle, so
  it costs ``batch.vcpus`` vCPU-seconds per second;
- :data:`PREPROCESS_VCPU_S_PER_CHANNEL_DAY` covers download, miniSEED decoding, merging,
  anti-alias decimation and detrending of a 100 Hz channel-day on the kernels path
  (``benches/test_bench_preprocess.py``: 76 ms per channel-day on 2 vCPUs), and
  :data:`OBSPY_PREPROCESS_VCPU_S_PER_CHANNEL_DAY` the same on the obspy path
  (``processing.preprocess = "obspy"``: 767 ms on 2 vCPUs); both scale with the raw sampling
  rate.

``batch.vcpu_seconds_per_channel_day`` replaces the two per-channel terms when set (e.g. from the
log of a real run). Pairs are all channel pairs (an upper bound: ``max_distance_km`` is not
applied without station coordinates).

Around the compute the estimate adds what a real bill holds (prices in :mod:`c4.batch.prices`):
start-up of every child (Spot fulfilment, boot, image pull), the EBS volumes while instances
run, S3 requests, the results' storage per month, NAT processing and inter-region transfer when
the instances read the archive from another region or through a NAT gateway; and it derives
the job timeout from the longest shard. Instances are never perfectly packed, so treat the
total as a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from c4.batch import prices
from c4.config import Config
from c4.shards import shard_days

WHITEN_VCPU_S_PER_CHANNEL_DAY = 0.06
"""Windowing, QC day pass, FFT and whitening of one channel-day, vCPU-seconds (benches: scale,
spectra stage)."""
CORRELATE_VCPU_S_PER_PAIR_DAY = 0.0015
"""Correlation, writing and stacking of one pair-day, vCPU-seconds (benches: scale)."""
SERIAL_S_PER_PAIR_DAY = 0.0006
"""Seconds per pair-day in which one thread of the child works and the others wait (benches:
scale, serial share; re-measure when stacking or writing change)."""
PREPROCESS_VCPU_S_PER_CHANNEL_DAY = 0.16
"""Download, decoding, merge and decimation of one 100 Hz channel-day on the kernels path,
vCPU-s."""
OBSPY_PREPROCESS_VCPU_S_PER_CHANNEL_DAY = 1.6
"""The same on the obspy path (``processing.preprocess = "obspy"``), vCPU-s."""
PREPROCESS_REFERENCE_RATE_HZ = 100.0
TIMEOUT_FACTOR = 3.0
"""The derived timeout is this many times the longest shard's estimated run time (plus the
start-up): room for slow Spot instances and S3, short enough that a hung child stops."""
MIN_TIMEOUT_S = 3600
ASSUMED_STATIONS = 100
"""Station count of a dry run that knows none (flagged as assumed; a real submit refuses)."""
BYTES_PER_VALUE = 4
"""Results are float32."""


@dataclass(frozen=True)
class CampaignSize:
    """What one day of the archive holds for the run: the input of every estimate.

    ``channels`` are the correlated channels (by default ``stations x len(data.components)``);
    ``source_sampling_rate_hz`` is the rate of the raw day files (bytes read, preprocessing).
    ``source`` says where the numbers come from; ``assumed`` marks a guess.
    """

    stations: int
    channels: int
    source_sampling_rate_hz: float = 100.0
    source: str = "--stations"
    assumed: bool = False


def campaign_size(config: Config, stations: int | None, source: str = "--stations"
                  ) -> CampaignSize:
    """A :class:`CampaignSize` for ``stations`` stations of the config's components (None:
    :data:`ASSUMED_STATIONS`, flagged)."""
    if stations is None:
        n = ASSUMED_STATIONS
        return CampaignSize(n, n * len(config.data.components), source="assumed", assumed=True)
    return CampaignSize(stations, stations * len(config.data.components), source=source)


@dataclass(frozen=True)
class Costs:
    """USD of each term; ``*_spot`` / ``*_on_demand`` at the two vCPU prices of ``[batch]``."""

    compute_spot: float
    compute_on_demand: float
    startup_spot: float
    startup_on_demand: float
    ebs: float
    s3_requests: float
    results_storage_per_month: float
    nat_processing: float
    inter_region_transfer: float
    total_spot: float
    total_on_demand: float


@dataclass(frozen=True)
class Estimate:
    """Size, cost and timeout of a run (see the module docstring for each term)."""

    shards: int
    days: int
    longest_shard_days: int
    stations: int
    channels: int
    stations_source: str
    stations_assumed: bool
    station_days: int
    channel_days: int
    pair_days: int
    lags: int
    vcpu_hours: float
    startup_vcpu_hours: float
    wall_hours_per_shard: float
    timeout_s: int
    timeout_source: str
    input_gib: float
    results_gib: float
    s3_put_requests: int
    s3_get_requests: int
    region: str | None
    source_region: str | None
    costs: Costs
    notes: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain dict for the dry-run JSON."""
        out = asdict(self)
        out["spot_cost_usd"] = self.costs.total_spot
        out["on_demand_cost_usd"] = self.costs.total_on_demand
        return out


def pairs_per_day(config: Config, stations: int, channels: int | None = None) -> int:
    """Channel pairs correlated per day for ``stations`` stations (all distances)."""
    n_comp = len(config.data.components)
    channels = stations * n_comp if channels is None else channels
    if config.processing.cross_components:
        pairs = channels * (channels - 1) // 2
    else:
        per_comp = channels / n_comp
        pairs = int(n_comp * per_comp * (per_comp - 1) // 2)
    return pairs + (channels if config.processing.autocorr else 0)


def lags_per_pair(config: Config) -> int:
    """Samples of one correlation: ``2 * maxlag * sampling_rate + 1``."""
    p = config.processing
    return 2 * round(p.maxlag * p.sampling_rate) + 1


def groups_per_day(config: Config) -> int:
    """Correlations kept per pair and day: one, or one per sub-stack of ``substack`` windows."""
    p = config.processing
    if not p.substack:
        return 1
    windows = int((config.data.day_length_s - p.cc_len) // p.step) + 1
    return max(1, math.ceil(windows / p.substack))


def storage_bytes(
    pairs: int, lags: int, days: int, *, bytes_per_value: float = BYTES_PER_VALUE,
    daily_products: float = 1.0, stack_products: float = 0.0,
) -> float:
    """Bytes of stored results: ``pairs x lags`` values of ``bytes_per_value`` for each of
    ``daily_products`` arrays kept per day over ``days`` days, plus ``stack_products`` arrays
    kept once (stacks)."""
    return float(pairs) * lags * bytes_per_value * (days * daily_products + stack_products)


def results_storage_bytes(config: Config, pairs: int, days: int, shards: int) -> float:
    """Today's layout (:mod:`c4.store`): every day's correlations (``daily/``, one per
    sub-stack) and one stack per method and shard (``shards/<label>.zarr``)."""
    return storage_bytes(
        pairs, lags_per_pair(config), days, daily_products=groups_per_day(config),
        stack_products=shards * len(config.processing.stack_methods),
    )


def storage_usd_per_month(n_bytes: float) -> float:
    """S3 Standard storage of ``n_bytes`` for one month, USD."""
    return n_bytes / prices.GIB * prices.S3_STANDARD_PER_GIB_MONTH


def source_region_of(config: Config) -> str | None:
    """``batch.source_region``, else the known region of the ``data.source`` bucket."""
    if config.batch.source_region:
        return config.batch.source_region
    source = config.data.source
    if not source.startswith("s3://"):
        return None
    return prices.BUCKET_REGIONS.get(source[5:].split("/", 1)[0])


def _put_requests(config: Config, days: int, shards: int) -> int:
    """Objects written: per day one file per pair partition and the manifest entry; per shard
    the Zarr arrays of each partition's append (one chunk per variable) and its entry."""
    parts = config.output.pair_partitions
    from c4.store import PAIR_COORDS

    variables = len(config.processing.stack_methods) + len(PAIR_COORDS) + 2  # + counts, lag
    return days * (parts + 1) + shards * (parts * variables + 1)


def derived_timeout_s(shard_hours: float) -> int:
    """:data:`TIMEOUT_FACTOR` x the shard's hours plus the start-up, whole hours, >= 1 h."""
    seconds = TIMEOUT_FACTOR * shard_hours * 3600 + prices.STARTUP_S_PER_CHILD
    return max(MIN_TIMEOUT_S, math.ceil(seconds / 3600) * 3600)


def estimate(
    config: Config, shards: list[int], size: CampaignSize, *, region: str | None = None
) -> Estimate:
    """Estimate for running ``shards`` of ``config`` on ``size``; ``region``: the jobs'."""
    cfg = config.batch
    per_shard_days = [len(shard_days(config, s)) for s in shards]
    days, longest = sum(per_shard_days), max(per_shard_days, default=0)
    per_day_pairs = pairs_per_day(config, size.stations, size.channels)
    channel_days, pair_days = days * size.channels, days * per_day_pairs
    preprocess = (OBSPY_PREPROCESS_VCPU_S_PER_CHANNEL_DAY
                  if config.processing.preprocess == "obspy"
                  else PREPROCESS_VCPU_S_PER_CHANNEL_DAY) * (
        size.source_sampling_rate_hz / PREPROCESS_REFERENCE_RATE_HZ)
    per_channel = cfg.vcpu_seconds_per_channel_day or (preprocess + WHITEN_VCPU_S_PER_CHANNEL_DAY)
    per_pair = CORRELATE_VCPU_S_PER_PAIR_DAY + cfg.vcpus * SERIAL_S_PER_PAIR_DAY
    per_day_vcpu_s = size.channels * per_channel + per_day_pairs * per_pair
    vcpu_hours = days * per_day_vcpu_s / 3600
    shard_hours = longest * per_day_vcpu_s / 3600 / cfg.vcpus
    startup_vcpu_hours = len(shards) * cfg.vcpus * prices.STARTUP_S_PER_CHILD / 3600
    timeout = cfg.timeout_s or derived_timeout_s(shard_hours)
    timeout_source = (
        "batch.timeout_s" if cfg.timeout_s
        else f"derived: {TIMEOUT_FACTOR:g} x the longest shard ({shard_hours:.2f} h) + start-up"
    )

    # EBS: root and scratch of every child's instance while it starts and runs.
    ebs_gib = cfg.root_volume_gib + (cfg.scratch_volume_gib or prices.AMI_SCRATCH_GIB)
    child_hours = sum(n * per_day_vcpu_s / 3600 / cfg.vcpus for n in per_shard_days)
    child_hours += len(shards) * prices.STARTUP_S_PER_CHILD / 3600
    ebs = ebs_gib * child_hours * prices.EBS_GP3_PER_GIB_MONTH / prices.HOURS_PER_MONTH

    input_gib = (channel_days * size.source_sampling_rate_hz * config.data.day_length_s
                 * prices.BYTES_PER_RAW_SAMPLE / prices.GIB)
    results = results_storage_bytes(config, per_day_pairs, days, len(shards))
    puts = _put_requests(config, days, len(shards))
    gets = channel_days + 2 * days  # every day file, plus listing the day and its manifest
    requests = puts / 1000 * prices.S3_PUT_PER_1000 + gets / 1000 * prices.S3_GET_PER_1000

    notes: list[str] = []
    source_region = source_region_of(config)
    cross = bool(region and source_region and region != source_region)
    # A gateway endpoint carries S3 traffic of its own region only; another region's bucket is
    # reached through the NAT gateway of a private subnet.
    nat_input = cfg.s3_route == "nat-gateway" or (cross and cfg.s3_route == "gateway-endpoint")
    nat_gib = (input_gib if nat_input else 0.0) + (
        results / prices.GIB if cfg.s3_route == "nat-gateway" else 0.0)
    nat = nat_gib * prices.NAT_PER_GIB
    inter_region = input_gib * prices.INTER_REGION_PER_GIB if cross else 0.0
    if cross:
        notes.append(
            f"the jobs run in {region} but {config.data.source} is in {source_region}: "
            f"{input_gib:,.0f} GiB cross regions ({inter_region:,.2f} USD"
            + (f", plus {nat:,.2f} USD through the NAT gateway" if nat else "")
            + f"); run in {source_region} instead"
        )
    elif cfg.s3_route == "nat-gateway":
        notes.append(
            f"batch.s3_route = 'nat-gateway': {nat_gib:,.0f} GiB through the NAT costs "
            f"{nat:,.2f} USD; an S3 gateway endpoint in the VPC is free (docs/aws.md)"
        )
    if region is None:
        notes.append("region unknown (set batch.region): transfer costs not checked")
    if size.assumed:
        notes.append(
            f"station count assumed ({size.stations}): pass --stations N or point data.stations "
            "at local metadata for a real estimate (a real submit needs one)"
        )

    def dollars(price: float) -> tuple[float, float]:
        return vcpu_hours * price, startup_vcpu_hours * price

    compute_spot, startup_spot = dollars(cfg.spot_price_per_vcpu_hour)
    compute_od, startup_od = dollars(cfg.on_demand_price_per_vcpu_hour)
    storage = storage_usd_per_month(results)
    shared = ebs + requests + storage + nat + inter_region
    costs = Costs(
        compute_spot=round(compute_spot, 2), compute_on_demand=round(compute_od, 2),
        startup_spot=round(startup_spot, 2), startup_on_demand=round(startup_od, 2),
        ebs=round(ebs, 2), s3_requests=round(requests, 2),
        results_storage_per_month=round(storage, 2), nat_processing=round(nat, 2),
        inter_region_transfer=round(inter_region, 2),
        total_spot=round(compute_spot + startup_spot + shared, 2),
        total_on_demand=round(compute_od + startup_od + shared, 2),
    )
    return Estimate(
        shards=len(shards), days=days, longest_shard_days=longest, stations=size.stations,
        channels=size.channels, stations_source=size.source, stations_assumed=size.assumed,
        station_days=days * size.stations, channel_days=channel_days, pair_days=pair_days,
        lags=lags_per_pair(config), vcpu_hours=round(vcpu_hours, 2),
        startup_vcpu_hours=round(startup_vcpu_hours, 2),
        wall_hours_per_shard=round(shard_hours, 2), timeout_s=timeout,
        timeout_source=timeout_source, input_gib=round(input_gib, 1),
        results_gib=round(results / prices.GIB, 1), s3_put_requests=puts, s3_get_requests=gets,
        region=region, source_region=source_region, costs=costs, notes=notes,
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
