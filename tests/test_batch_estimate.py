"""The dry-run estimate: every term against its own formula, the derived timeout, and the
transfer/NAT terms that depend on where the jobs run."""

from __future__ import annotations

import math

import pytest
from c4.batch import estimate as est
from c4.batch import prices
from c4.config import load_config


def cfg(*overrides: str):
    return load_config(None, ["data.start=2017-01-01", "data.end=2017-12-31", *overrides])


def test_pairs_lags_and_storage_follow_their_formulas() -> None:
    c = cfg('data.components="ZNE"')
    # 10 stations x 3 components, cross-components on: all channel pairs
    assert est.pairs_per_day(c, 10) == 30 * 29 // 2
    assert est.pairs_per_day(cfg('data.components="ZNE"', "processing.cross_components=false"),
                             10) == 3 * 10 * 9 // 2
    assert est.lags_per_pair(c) == 2 * 200 * 20 + 1  # maxlag 200 s at 20 Hz, both signs
    assert est.storage_bytes(1000, 8001, 31, daily_products=1, stack_products=2) == (
        1000 * 8001 * 4 * (31 + 2))
    with_substacks = cfg("processing.substack=48")  # 189 windows a day -> 4 sub-stacks
    assert est.groups_per_day(with_substacks) == math.ceil(
        (((86400 - 1800) // 450) + 1) / 48)


def test_estimate_terms() -> None:
    c = cfg('data.components="Z"', 'batch.region="us-west-2"', "batch.timeout_s=7200")
    size = est.CampaignSize(stations=100, channels=100, source_sampling_rate_hz=100.0)
    e = est.estimate(c, [0, 1], size, region="us-west-2")  # Jan + Feb 2017
    assert (e.days, e.longest_shard_days, e.channel_days) == (59, 31, 5900)
    pairs = 100 * 99 // 2
    assert e.pair_days == 59 * pairs
    per_day_s = 100 * (est.PREPROCESS_VCPU_S_PER_CHANNEL_DAY + est.WHITEN_VCPU_S_PER_CHANNEL_DAY
                       ) + pairs * (est.CORRELATE_VCPU_S_PER_PAIR_DAY
                                    + 32 * est.SERIAL_S_PER_PAIR_DAY)  # serial: all 32 vCPUs
    assert e.vcpu_hours == pytest.approx(59 * per_day_s / 3600, abs=0.01)
    assert e.wall_hours_per_shard == pytest.approx(31 * per_day_s / 3600 / 32, abs=0.01)
    assert e.startup_vcpu_hours == pytest.approx(2 * 32 * prices.STARTUP_S_PER_CHILD / 3600,
                                                 abs=0.01)
    costs = e.costs
    assert costs.compute_spot == pytest.approx(e.vcpu_hours * 0.02, abs=0.01)
    assert costs.startup_spot == pytest.approx(e.startup_vcpu_hours * 0.02, abs=0.01)
    ebs_hours = (59 * per_day_s / 3600 / 32) + 2 * prices.STARTUP_S_PER_CHILD / 3600
    assert costs.ebs == pytest.approx((50 + 500) * ebs_hours * 0.08 / 730, abs=0.01)
    results = est.storage_bytes(pairs, 8001, 59, stack_products=2 * 2)  # linear + pws, 2 shards
    assert e.results_gib == pytest.approx(results / 2**30, abs=0.1)
    assert costs.results_storage_per_month == pytest.approx(results / 2**30 * 0.023, abs=0.01)
    assert e.input_gib == pytest.approx(5900 * 100 * 86400 * 1.5 / 2**30, abs=0.1)
    assert costs.nat_processing == 0 and costs.inter_region_transfer == 0  # same region, endpoint
    assert e.timeout_s == 7200 and e.timeout_source == "batch.timeout_s"
    total = (costs.compute_spot + costs.startup_spot + costs.ebs + costs.s3_requests
             + costs.results_storage_per_month)
    assert costs.total_spot == pytest.approx(total, abs=0.05)
    assert costs.total_on_demand > costs.total_spot


def test_the_obspy_path_costs_its_own_preprocessing_rate() -> None:
    size = est.CampaignSize(stations=100, channels=100, source_sampling_rate_hz=50.0)
    fast = est.estimate(cfg(), [0], size)
    slow = est.estimate(cfg('processing.preprocess="obspy"'), [0], size)
    extra = 31 * 100 * 0.5 * (est.OBSPY_PREPROCESS_VCPU_S_PER_CHANNEL_DAY
                              - est.PREPROCESS_VCPU_S_PER_CHANNEL_DAY) / 3600
    assert slow.vcpu_hours - fast.vcpu_hours == pytest.approx(extra, abs=0.02)


def test_the_timeout_is_derived_from_the_longest_shard() -> None:
    c = cfg()
    e = est.estimate(c, [0], est.campaign_size(c, 500))
    expected = math.ceil((3 * e.wall_hours_per_shard * 3600 + prices.STARTUP_S_PER_CHILD)
                         / 3600) * 3600
    assert abs(e.timeout_s - expected) <= 3600  # wall hours are rounded in the report
    assert e.timeout_s >= 3 * e.wall_hours_per_shard * 3600
    assert "derived" in e.timeout_source
    tiny = est.estimate(c, [0], est.campaign_size(c, 2))
    assert tiny.timeout_s == est.MIN_TIMEOUT_S
    # a 500-station month is far shorter than the old fixed 48 h
    assert e.timeout_s < 48 * 3600


def test_another_region_than_the_archive_adds_transfer_and_nat() -> None:
    c = cfg()  # data.source = s3://scedc-pds, in us-west-2
    size = est.campaign_size(c, 200)
    here = est.estimate(c, [0], size, region="us-west-2")
    away = est.estimate(c, [0], size, region="eu-central-1")
    assert away.source_region == "us-west-2"
    assert away.costs.inter_region_transfer == pytest.approx(away.input_gib * 0.02, abs=0.01)
    # a gateway endpoint carries same-region traffic only: the rest goes through the NAT
    assert away.costs.nat_processing == pytest.approx(away.input_gib * 0.045, abs=0.01)
    assert any("run in us-west-2 instead" in n for n in away.notes)
    assert here.costs.inter_region_transfer == here.costs.nat_processing == 0
    nat = est.estimate(cfg('batch.s3_route="nat-gateway"'), [0], size, region="us-west-2")
    assert nat.costs.nat_processing == pytest.approx(
        (nat.input_gib + nat.results_gib) * 0.045, abs=0.05)
    assert any("gateway endpoint" in n for n in nat.notes)
    unknown = est.estimate(c, [0], size, region=None)
    assert any("region unknown" in n for n in unknown.notes)


def test_an_unknown_station_count_is_assumed_and_said() -> None:
    c = cfg()
    size = est.campaign_size(c, None)
    assert size.assumed and size.stations == est.ASSUMED_STATIONS
    e = est.estimate(c, [0, 1, 2], size)
    assert e.stations_assumed and e.costs.total_spot > 0
    assert any("station count assumed" in n for n in e.notes)
    doc = e.to_json_dict()
    assert doc["spot_cost_usd"] == doc["costs"]["total_spot"]


def test_more_stations_cost_more_and_pairs_grow_quadratically() -> None:
    c = cfg()
    small, big = (est.estimate(c, [0], est.campaign_size(c, n)) for n in (100, 200))
    assert big.pair_days == pytest.approx(4 * small.pair_days, rel=0.02)
    assert big.costs.total_spot > small.costs.total_spot
