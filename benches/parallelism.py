"""How many threads of this process are working, over time and per pipeline stage.

The measure of "single-threaded" used by the scale benchmark: a sampler thread reads the state
of every other thread of the process from ``/proc/self/task/*/stat`` every ``interval`` s;
a thread in state ``R`` (running, or runnable and waiting for a core) is *working*. Each
interval between two samples counts as

- **serial** when exactly one thread is working (the main thread in Python or a single-
  threaded numpy call, one writer thread, one kernel thread),
- **parallel** when two or more are,
- **waiting** when none is (blocked on I/O or a lock).

Runnable threads count even when the machine's other tenants hold the cores, so the measure
is the program's parallelism, not the machine's load. Intervals are attributed to the pipeline
stage running at their end (spans recorded around :meth:`c4.pipeline.Timings.stage`), and to
``other`` outside every stage (pairs, partitions, manifest entries). Peak memory is the kernel's
own high-water mark (``VmHWM``), reset before each run through ``/proc/self/clear_refs``.
"""

from __future__ import annotations

import bisect
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from c4 import pipeline


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    working: list[int] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    """Resident set size in bytes at each sample."""
    cpu: list[float] = field(default_factory=list)
    """CPU seconds of the process (all threads, user + system) at each sample."""


PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def _working_threads(own: int) -> int:
    n = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == own:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended
            continue
        if stat[stat.rindex(b")") + 2:][:1] == b"R":
            n += 1
    return n


@contextmanager
def sampled(interval: float = 0.01) -> Iterator[Samples]:
    """Sample the process's working threads every ``interval`` s while the block runs."""
    out = Samples()
    stop = threading.Event()

    def run() -> None:
        own = threading.get_native_id()
        while not stop.is_set():
            out.working.append(_working_threads(own))
            out.rss.append(_rss_bytes())
            out.cpu.append(sum(os.times()[:2]))
            out.times.append(time.perf_counter())
            stop.wait(interval)

    sampler = threading.Thread(target=run, name="c4-bench-sampler", daemon=True)
    sampler.start()
    try:
        yield out
    finally:
        stop.set()
        sampler.join()


@contextmanager
def stage_spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, float, float]]]:
    """Record ``(stage, start, end)`` for every :meth:`c4.pipeline.Timings.stage` block."""
    spans: list[tuple[str, float, float]] = []
    original = pipeline.Timings.stage

    @contextmanager
    def stage(self: pipeline.Timings, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        with original(self, name):
            yield
        spans.append((name, t0, time.perf_counter()))

    monkeypatch.setattr(pipeline.Timings, "stage", stage)
    yield spans


def shares(samples: Samples, spans: list[tuple[str, float, float]], t0: float, t1: float
           ) -> dict[str, dict[str, float]]:
    """Seconds per stage (and ``other``) that were serial, parallel and waiting, thread-seconds
    (working threads x seconds), CPU seconds (``cpu``) and the largest sampled RSS
    (``rss_max``, bytes), over ``[t0, t1]``."""
    spans = sorted(spans, key=lambda s: s[1])
    starts = [s[1] for s in spans]
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    prev = t0
    prev_cpu = None
    for t, n, rss, cpu in zip(samples.times, samples.working, samples.rss, samples.cpu,
                              strict=True):
        if t <= t0 or t > t1:
            prev_cpu = cpu
            continue
        k = bisect.bisect_right(starts, t) - 1
        name = spans[k][0] if k >= 0 and spans[k][2] >= t else "other"
        dt = t - prev
        prev = t
        kind = "waiting" if n == 0 else "serial" if n == 1 else "parallel"
        out[name][kind] += dt
        out[name]["thread_seconds"] += n * dt
        out[name]["rss_max"] = max(out[name]["rss_max"], rss)
        out[name]["cpu"] += cpu - (cpu if prev_cpu is None else prev_cpu)
        prev_cpu = cpu
    return {k: dict(v) for k, v in out.items()}


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    assert m is not None
    return int(m.group(1)) * 1024
