"""Results stores of synthetic daily correlations (written as `c4 correlate` writes them: daily
partition files, then each day's manifest entry), for the stacking tests: any number of days
in a second, where a real archive would take minutes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from c4.config import Config, parse_config
from c4.store import (
    DailyResult,
    output_location,
    partition_of,
    read_daily,
    write_day_entry,
    write_day_part,
)

from tests import reference as ref


def stack_config(output: str | Path, scratch: Path, **processing: Any) -> Config:
    """A config whose days have 201 lags (10 Hz, maxlag 10 s)."""
    proc: dict[str, Any] = {"sampling_rate": 10.0, "maxlag": 10.0, "cc_len": 600.0,
                            "step": 300.0, "freqmin": 0.1, "freqmax": 1.0,
                            "stack_methods": ["linear", "pws", "robust"]}
    proc.update(processing)
    return parse_config({"processing": proc, "output": {
        "output": str(output), "scratch": str(scratch), "min_free_gb": 0.0,
        "pair_partitions": 2}})


def pair_names(n: int) -> np.ndarray:
    return np.array([f"XX.S{i:02d}..HHZ_XX.S{i + 1:02d}..HHZ" for i in range(n)])


def write_days(config: Config, days: Sequence[dt.date], n_pairs: int, *, seed: int = 0,
               missing: float = 0.2) -> None:
    """Random correlations of ``n_pairs`` pairs on ``days``: each pair is absent on a day with
    probability ``missing`` and present without windows (counts 0) on a few more."""
    loc = output_location(config.output.output)
    scratch = Path(config.output.scratch)
    p = config.processing
    m = round(p.maxlag * p.sampling_rate)
    lags = np.arange(-m, m + 1) / p.sampling_rate
    names = pair_names(n_pairs)
    distance = np.linspace(1.0, 90.0, n_pairs)
    n_parts = config.output.pair_partitions
    part_of = partition_of(names, n_parts)
    rng = np.random.default_rng(seed)
    for day in days:
        there = rng.random(n_pairs) >= missing
        data = rng.standard_normal((n_pairs, 1, len(lags))).astype(np.float32)
        data += np.sin(np.arange(len(lags)) / 7.0).astype(np.float32)  # a coherent part
        counts = rng.integers(1, 30, (n_pairs, 1)).astype(np.uint32)
        counts[rng.random(n_pairs) < 0.05] = 0
        data[counts[:, 0] == 0] = 0
        parts = []
        for part in range(n_parts):
            rows = np.flatnonzero(there & (part_of == part))
            if len(rows):
                write_day_part(loc, DailyResult(day, data[rows], counts[rows], lags, {
                    "pair": names[rows], "distance_km": distance[rows]}), part, scratch)
                parts.append(part)
        write_day_entry(loc, {"day": day.isoformat(), "fingerprint": config.fingerprint(),
                              "config": config.to_toml(), "parts": parts, "n_parts": n_parts,
                              "group_seconds": 86400.0})


def reference_stacks(config: Config, days: Sequence[dt.date]) -> dict[str, dict[str, Any]]:
    """Per pair: the numpy reference stacks (linear, pws, robust) of its days with windows,
    read back from the daily files; and n_days."""
    loc = output_location(config.output.output)
    traces: dict[str, list[np.ndarray]] = {}
    for day in days:
        r = read_daily(loc, day)
        for name, x, c in zip(r.pairs["pair"], r.data, r.counts, strict=True):
            if c[0] > 0:
                traces.setdefault(str(name), []).append(x[0].astype(np.float64))
    p = config.processing
    out = {}
    for name, xs in traces.items():
        x = np.stack(xs)
        out[name] = {"linear": x.mean(axis=0), "pws": ref.pws(x, p.pws_power),
                     "robust": ref.robust(x, p.robust_epsilon, p.robust_max_iter)[0],
                     "n_days": len(xs)}
    return out
