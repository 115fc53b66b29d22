"""Benchmark sizes and the ratio report.

Sizes follow NoisePy's defaults (20 Hz, cc_len 1800 s, step 450 s: 188 windows per day,
0.05-2 Hz, maxlag 200 s, rma whitening). In smoke mode (``--benchmark-disable``, as CI runs it)
the same code runs once on a small day so the suites cannot rot without costing minutes.

Every benchmark belongs to a group whose baseline is the test named ``*numpy*`` (or, for the
raw-rate preprocessing and pipeline groups, ``*obspy*``: today's obspy path) that runs in the
same session; the terminal summary prints each result's median time as a speed-up over that
baseline's median.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import pytest


@dataclass(frozen=True)
class Sizes:
    fs: float = 20.0
    day_s: float = 86400.0
    cc_len: float = 1800.0
    step: float = 450.0
    freqmin: float = 0.05
    freqmax: float = 2.0
    maxlag: float = 200.0
    channels_whiten: int = 4
    channels_correlate: int = 32


SMOKE = Sizes(day_s=3 * 3600.0, channels_whiten=2, channels_correlate=8)


@pytest.fixture(scope="session")
def sizes(request: pytest.FixtureRequest) -> Sizes:
    """NoisePy's sizes (``SMOKE`` in smoke mode); ``C4_BENCH_CHANNELS=whiten,correlate``
    overrides the channel counts, e.g. to give every core of a large machine work."""
    base = SMOKE if request.config.getoption("benchmark_disable") else Sizes()
    raw = os.environ.get("C4_BENCH_CHANNELS")
    if not raw:
        return base
    whiten, correlate = (int(v) for v in raw.split(","))
    if not 0 < whiten <= correlate:
        raise pytest.UsageError("C4_BENCH_CHANNELS: want 0 < whiten <= correlate")
    return replace(base, channels_whiten=whiten, channels_correlate=correlate)


def thread_counts() -> list[int]:
    """Thread counts to benchmark: ``C4_BENCH_THREADS`` (comma list), default 1 and all CPUs."""
    raw = os.environ.get("C4_BENCH_THREADS")
    if raw:
        return [int(v) for v in raw.split(",")]
    n = os.cpu_count() or 1
    return sorted({1, n})


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    terminalreporter.section("speed-up over the numpy baselines of each group (median times)")
    for group, benches in groups.items():
        base = [b for b in benches if "numpy" in b.name or "obspy" in b.name]
        if not base:
            continue
        for b in benches:
            for ref in base:
                info = b.extra_info or {}
                terminalreporter.write_line(
                    f"{group:12s} {b.name:32s} {b.stats.median * 1e3:8.1f} ms  "
                    f"x{ref.stats.median / b.stats.median:6.2f} vs {ref.name}  {info}"
                )
