"""Stopping a run: SIGINT and SIGTERM end ``c4 correlate`` with one line and 130 / 143, keep
every finished day and mark nothing partial complete, so the same command resumes to results
bit-identical to a run never stopped; worker processes die with c4; two runs can share one
scratch folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import c4
import pytest
from c4.store import completed_days

from tests.pipeline_helpers import arrays_equal, run_c4, small_archive, small_config, write_config

ARGV = [sys.executable, "-c", "from c4.cli import main; main()"]


@pytest.fixture(scope="module")
def six_days(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("interrupts")
    arch = small_archive(root / "archive", n_stations=3, days=6, day_length_s=3600.0)
    scratch = root / "scratch"
    scratch.mkdir()
    cfg = small_config(arch, root / "clean", scratch, stack_methods=["linear", "pws"])
    path = write_config(cfg, root / "c4.toml")
    res = run_c4("correlate", "--config", str(path), "--index", "0")
    assert res.returncode == 0, res.stderr
    return {"root": root, "path": path, "scratch": scratch, "clean": root / "clean",
            "days": arch["days"]}


def start(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full = {**os.environ, "C4_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([*ARGV, "correlate", "--config", str(path), "--index", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full)


def wait_for_event(proc: subprocess.Popen[str], event: str, lines: list[str]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        if json.loads(line).get("event") == event:
            return
    raise AssertionError(f"no {event} event before the run ended:\n{''.join(lines)}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_run_and_the_same_command_resumes(
        six_days: dict[str, Any], tmp_path: Path, signum: int) -> None:
    out = tmp_path / "out"
    proc = start(six_days["path"], "--output", str(out))
    lines: list[str] = []
    wait_for_event(proc, "day_done", lines)
    proc.send_signal(signum)
    rest, _ = proc.communicate(timeout=60)[::-1]
    stderr = "".join(lines) + rest
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    records = []
    for line in stderr.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}\n{stderr}") from None
    errors = [r for r in records if r["level"] == "error"]
    assert [e["message"] for e in errors] == ["interrupted; run the same command again to "
                                              "resume"]
    done = completed_days(str(out))
    assert 1 <= len(done) < 6  # finished days kept, the rest not marked complete
    assert not (out / "manifest" / "shards").exists() or not any(
        (out / "manifest" / "shards").iterdir())
    assert list(six_days["scratch"].iterdir()) == []  # the run's scratch folder is removed

    if signum == signal.SIGINT:
        return  # resuming is the same after either signal; checked once, below
    again = run_c4("correlate", "--config", str(six_days["path"]), "--index", "0",
                   "--output", str(out))
    assert again.returncode == 0, again.stderr
    summary = [json.loads(line)["message"] for line in again.stderr.splitlines()
               if "done:" in line][-1]
    assert summary == (f"shard 2024-01 done: {6 - len(done)} day{'s' if len(done) != 5 else ''}"
                       f" computed, {len(done)} skipped; results {out}/shards/2024-01.zarr")
    complete = run_c4("correlate", "--config", str(six_days["path"]), "--index", "0",
                      "--output", str(out))
    assert complete.returncode == 0, complete.stderr
    assert (f"shard 2024-01 done: already complete, 6 skipped; results {out}/shards/"
            "2024-01.zarr") in complete.stderr
    assert arrays_equal(c4.open_results(str(out)), c4.open_results(str(six_days["clean"])))


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_preprocessing_workers_die_with_c4(six_days: dict[str, Any], tmp_path: Path) -> None:
    proc = start(six_days["path"], "--output", str(tmp_path / "out"), "--set",
                 'processing.preprocess="obspy"', "--set", "processing.workers=2")
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 3 and time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)  # forkserver, its 2 workers (and a resource tracker)
        time.sleep(0.05)
    assert len(workers) >= 3, "the process pool did not start"
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for p in left:  # do not leave them behind for the rest of the test session
        os.kill(p, signal.SIGKILL)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stderr.close()
    assert not left, "worker processes outlived c4"


def test_two_runs_sharing_one_scratch_folder_both_work(six_days: dict[str, Any],
                                                       tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    runs = [start(six_days["path"], "--output", str(tmp_path / name), "--scratch", str(scratch),
                  "--set", f'data.end="{six_days["days"][1]}"') for name in ("a", "b")]
    for proc in runs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for name in ("a", "b"):
        assert completed_days(str(tmp_path / name)) == set(six_days["days"][:2])
    assert list(scratch.iterdir()) == []


_DECODE_UNDER_SIGNALS = r"""
import random, signal, sys, time
import numpy as np
from c4 import interrupts, mseed

path = sys.argv[1]
t0 = time.perf_counter()
want = [t.data.copy() for t in mseed.read_traces(path)[0]]
took = time.perf_counter() - t0
interrupts.install()
signal.signal(signal.SIGALRM, interrupts._handler)
rng = random.Random(1)
stops = decodes = 0
while decodes < 300:
    try:  # at most one stop request per decode, at a random moment of it (or none)
        signal.setitimer(signal.ITIMER_REAL, rng.uniform(1e-6, 2 * took))
        traces = mseed.read_traces(path)[0]
        signal.setitimer(signal.ITIMER_REAL, 0)
    except interrupts.Interrupted:
        stops += 1
        interrupts._requested.clear()
        continue
    decodes += 1
    assert all(np.array_equal(t.data, w) for t, w in zip(traces, want, strict=True))
print(stops, decodes)
"""


def test_a_stop_during_a_miniseed_decode_waits_for_the_decode(tmp_path: Path) -> None:
    """libmseed calls back into Python for its sample buffers; a stop raised inside that
    callback would be dropped by ctypes and the decode would go on with a bad pointer (heap
    corruption: the process aborted under SIGTERM). The stop is held until the decode ends."""
    arch = small_archive(tmp_path)
    path = next(Path(arch["root"]).rglob("*.ms"))
    res = subprocess.run([sys.executable, "-c", _DECODE_UNDER_SIGNALS, str(path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Exception ignored" not in res.stderr, res.stderr
    stops, decodes = map(int, res.stdout.split())
    assert decodes == 300 and stops > 0
