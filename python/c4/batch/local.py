"""``c4 local``: rehearse an array job on this machine, one process per child, as Batch would.

Child ``i`` runs ``c4 correlate --config <config>`` with ``AWS_BATCH_JOB_ARRAY_INDEX=i`` (and
``C4_SHARD_MAP`` when the selection is not ``0..n-1``), ``workers`` at a time; each child's
output goes to ``<log_dir>/child-<i>.log``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from c4.batch.requests import format_shard_map
from c4.shards import ARRAY_INDEX_ENV, SHARD_MAP_ENV


@dataclass(frozen=True)
class ChildRun:
    """Outcome of one local child."""

    index: int
    returncode: int
    seconds: float
    log: Path


def correlate_command(config: str) -> list[str]:
    """The command of every child: this Python's ``c4 correlate --config <config>``."""
    return [sys.executable, "-c", "from c4.cli import main; main()", "correlate",
            "--config", config]


def run_local(
    command: list[str],
    size: int,
    workers: int,
    log_dir: Path,
    shard_map: list[int] | None = None,
    console: Console | None = None,
    on_done: Callable[[ChildRun], None] | None = None,
) -> list[ChildRun]:
    """Run ``size`` children of ``command``, ``workers`` at a time; results by index."""
    if size < 1:
        raise ValueError(f"size {size}: need at least one child")
    if workers < 1:
        raise ValueError(f"workers {workers}: need at least one")
    log_dir.mkdir(parents=True, exist_ok=True)
    base_env = dict(os.environ)
    base_env.pop(SHARD_MAP_ENV, None)
    if shard_map is not None:
        base_env[SHARD_MAP_ENV] = format_shard_map(shard_map)

    def one(index: int) -> ChildRun:
        env = {**base_env, ARRAY_INDEX_ENV: str(index)}
        log = log_dir / f"child-{index}.log"
        start = time.monotonic()
        with log.open("w") as fh:
            proc = subprocess.run(command, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  check=False)
        return ChildRun(index, proc.returncode, time.monotonic() - start, log)

    results: dict[int, ChildRun] = {}
    progress = Progress(
        TextColumn("[bold]array children"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
        console=console or Console(stderr=True), transient=False,
    )
    with progress, ThreadPoolExecutor(max_workers=workers) as pool:
        task = progress.add_task("children", total=size, failed=0)
        futures = [pool.submit(one, i) for i in range(size)]
        for future in as_completed(futures):
            run = future.result()
            results[run.index] = run
            failed = sum(1 for r in results.values() if r.returncode != 0)
            progress.update(task, advance=1, failed=failed)
            if on_done is not None:
                on_done(run)
    return [results[i] for i in range(size)]
