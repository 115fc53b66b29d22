"""The dry run prices the results for each output.daily choice: bytes written and kept (also
per month of data), objects, PUT/GET requests and their cost, next to the compute cost."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from c4.batch import estimate as est
from c4.batch import prices
from c4.config import load_config

from tests.batch_helpers import invoke, write_config


def _cfg(*overrides: str):
    return load_config(None, ["data.start=2017-01-01", "data.end=2017-12-31",
                              'data.components="Z"', *overrides])


def test_each_choice_follows_the_layout() -> None:
    c = _cfg()
    pairs, days = 1000 * 999 // 2, [31, 28]
    raw = pairs * 8001 * 4  # bytes of one float32 trace per pair
    rows = {d: est.storage_choice(c, d, pairs, days)
            for d in ("float32", "float16", "substack:7", "none")}
    stacks = raw * 2 * 2 * est.STACK_BYTES_RATIO  # linear + pws, two shards
    gib = prices.GIB
    assert rows["none"].stored_gib == pytest.approx(stacks / gib, abs=0.01)
    assert rows["float32"].stored_gib == pytest.approx((stacks + raw * 59 * 0.87) / gib,
                                                       abs=0.01)
    assert rows["float16"].stored_gib == pytest.approx((stacks + raw * 59 * 0.46) / gib,
                                                       abs=0.01)
    weeks = math.ceil(31 / 7) + math.ceil(28 / 7)
    assert rows["substack:7"].stored_gib == pytest.approx((stacks + raw * weeks * 0.87) / gib,
                                                          abs=0.01)
    # every choice uploads the float32 work files; only the kept part differs
    for r in rows.values():
        assert r.written_gib >= raw * 59 / gib
        assert r.work_area_gib == pytest.approx(raw * 31 / gib, abs=0.01)
        assert r.storage_usd_per_month == pytest.approx(r.stored_gib * 0.023, abs=0.01)
        assert r.stored_gib_per_month == pytest.approx(r.stored_gib / (59 / 30.4375), abs=0.01)
    order = ["float32", "float16", "substack:7", "none"]
    for a, b in itertools.pairwise(order):
        assert rows[a].stored_gib > rows[b].stored_gib
        assert rows[a].put_requests >= rows[b].put_requests
    assert rows["none"].get_requests * 2 == rows["float32"].get_requests  # read once, not twice
    # sharded stores: thousands of objects for a 500k-pair campaign, not one per pair-day
    assert rows["float32"].objects < 10_000


def test_dry_run_prints_every_choice_next_to_compute(aws_env: str, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path / "c4.toml", None)
    dry = invoke("submit", "--dry-run", "--months", "2", "--start", "2017-03",
                 "--config", str(config), "--stations", "300", "--no-archive-size",
                 "--set", 'output.daily="float16"')
    assert dry.exit_code in (0, 2), dry.output
    e = json.loads(dry.stdout)["estimate"]
    assert e["daily"] == "float16"
    rows = {r["daily"]: r for r in e["storage_by_daily"]}
    assert set(rows) == {"float32", "float16", "substack:7", "none"}
    assert e["costs"]["results_storage_per_month"] == rows["float16"]["storage_usd_per_month"]
    assert e["results_gib"] == pytest.approx(rows["float16"]["stored_gib"], abs=0.1)
    for r in rows.values():
        assert r["compute_spot_usd"] == e["costs"]["compute_spot"]
        assert r["written_gib_per_month"] > 0 and r["put_requests"] > 0
        assert r["total_spot_usd"] == pytest.approx(
            e["costs"]["total_spot"] - rows["float16"]["storage_usd_per_month"]
            - rows["float16"]["requests_usd"] + r["storage_usd_per_month"] + r["requests_usd"],
            abs=0.02)
    assert rows["float32"]["total_spot_usd"] > rows["none"]["total_spot_usd"]
