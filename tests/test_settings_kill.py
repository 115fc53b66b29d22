"""Re-runs with changed settings killed (SIGKILL) at random points, on disk and on S3 (moto):
after every kill, whatever a reader returns as complete (``read_daily``, ``open_daily``,
``c4.open_results``) is exactly the product of one of the two configurations, never a mix;
the last run completes and equals a clean run bit for bit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import c4
import pytest
from c4.config import Config
from c4.pipeline import run_shard
from c4.store import completed_days, completed_shards, day_entry, open_daily, read_daily

from tests.pipeline_helpers import arrays_equal, small_archive, small_config, write_config

KILLS = 5


def _cmd(path: Path) -> list[str]:
    return [sys.executable, "-c", "from c4.cli import main; main()", "correlate", "--config",
            str(path), "--index", "0"]


def start_run(path: Path) -> tuple[subprocess.Popen[str], threading.Event, list[str]]:
    """``c4 correlate`` in a subprocess, an event set once its shard has started or been
    skipped (its stderr is drained by a thread), and the event seen."""
    proc = subprocess.Popen(_cmd(path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "C4_NUM_THREADS": "1"})
    started = threading.Event()
    seen: list[str] = []

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            for event in ('"shard_start"', '"shard_skipped"'):
                if event in line:
                    seen.append(event)
                    started.set()
        started.set()

    threading.Thread(target=drain, daemon=True).start()
    return proc, started, seen


def timed_run(path: Path) -> float:
    """Seconds from the shard's start to the end of a whole run."""
    proc, started, _ = start_run(path)
    assert started.wait(120)
    t0 = time.monotonic()
    assert proc.wait(300) == 0
    return time.monotonic() - t0


_CACHE: dict[tuple[str, Any], Any] = {}


def _ref(what: str, url: str, day: Any = None) -> Any:
    """A reference store's daily result or results (read once)."""
    if (url, day) not in _CACHE:
        _CACHE[url, day] = read_daily(url, day) if what == "daily" else c4.open_results(url)
    return _CACHE[url, day]


def _same_day(store: str, ref: str, day: Any) -> None:
    a, b = read_daily(store, day), _ref("daily", ref, day)
    assert a.pairs["pair"].tolist() == b.pairs["pair"].tolist()
    assert a.data.tobytes() == b.data.tobytes() and a.counts.tobytes() == b.counts.tobytes()


def check_store(store: str, refs: dict[str, tuple[Config, str]]) -> dict[str, int]:
    """Everything complete in ``store`` equals the reference of its own settings."""
    seen: dict[str, int] = {}
    for day in sorted(completed_days(store)):
        entry = day_entry(store, day)
        assert entry is not None and entry["fingerprint"] in refs
        seen[entry["fingerprint"]] = seen.get(entry["fingerprint"], 0) + 1
        _same_day(store, refs[entry["fingerprint"]][1], day)
    try:
        ds = open_daily(store)
        assert len(seen) == 1 and ds.attrs["fingerprint"] in seen
    except ValueError as exc:
        assert len(seen) > 1 and "made with different settings" in str(exc)
    except FileNotFoundError:
        assert not seen
    if completed_shards(store):
        ds = c4.open_results(store)
        matches = [fp for fp, (cfg, ref) in refs.items()
                   if ds.attrs["fingerprint"] == fp and arrays_equal(ds, _ref("results", ref))]
        assert len(matches) == 1, "a complete shard that is no configuration's product"
        assert set(ds.data_vars) == set(refs[matches[0]][0].processing.stack_methods) | {
            "n_days", "n_windows"}
    else:
        with pytest.raises(FileNotFoundError):
            c4.open_results(store)
    return seen


def kill_runs(tmp: Path, store: str, seed: int) -> None:
    """Store ``store`` complete with settings A, then :data:`KILLS` runs alternating settings
    B and A, each killed at a random time while it works, then B to the end."""
    arch = small_archive(tmp / "archive", days=2, n_stations=5, day_length_s=3600.0)
    (tmp / "scratch").mkdir()
    a = small_config(arch, store, tmp / "scratch", stack_methods=["linear", "pws", "robust"])
    b = small_config(arch, store, tmp / "scratch", freqmax=0.8, stack_methods=["linear"])
    refs: dict[str, tuple[Config, str]] = {}
    seconds = {}
    for name, cfg in (("a", a), ("b", b)):
        ref = f"{store}-ref-{name}"
        seconds[name] = timed_run(write_config(cfg.model_copy(update={
            "output": cfg.output.model_copy(update={"output": ref})}),
            tmp / f"ref-{name}.toml"))
        refs[cfg.fingerprint()] = (cfg, ref)
    paths = {"a": write_config(a, tmp / "a.toml"), "b": write_config(b, tmp / "b.toml")}
    run_shard(a, 0)
    check_store(store, refs)
    rng = random.Random(seed)
    killed = 0
    for k in range(KILLS):
        name = "ba"[k % 2]
        proc, started, seen = start_run(paths[name])
        assert started.wait(120)
        time.sleep(rng.uniform(0.0, 1.0) * seconds[name])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL and seen == ['"shard_start"']
        check_store(store, refs)
    assert killed >= KILLS - 1, "the runs ended before they could be killed"
    subprocess.run(_cmd(paths["b"]), check=True, capture_output=True)
    assert check_store(store, refs) == {b.fingerprint(): 2}
    assert arrays_equal(c4.open_results(store), _ref("results", refs[b.fingerprint()][1]))


def test_killed_settings_changes_never_mix_on_disk(tmp_path: Path) -> None:
    kill_runs(tmp_path, str(tmp_path / "store"), seed=10)


def test_killed_settings_changes_never_mix_on_s3(aws_env: str, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(
        Bucket="c4-kill", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    kill_runs(tmp_path, "s3://c4-kill/run", seed=11)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(
        Bucket="c4-kill", Prefix="run/shards/")["Contents"]]
    assert not any("/pws/" in k or "/robust/" in k for k in keys)  # no stale arrays left
