"""One shard, end to end: fetch -> preprocess -> spectra -> correlate per day, then stack.

This is what ``c4 correlate`` (and so every Batch array child) runs. For each day of the shard:

1. list the day's files (:mod:`c4.sources`, any layout) and skip it if the manifest says it is
   complete with the same processing settings and inputs (log line ``day YYYY-MM-DD already
   complete, skipping``; :mod:`c4.days` says when a day is recomputed and withdraws its entry
   first); a day without files is *empty* (recorded, listed again next run);
2. check the scratch directory (exists, ``output.min_free_gb`` free);
3. take each station's metadata epoch covering the day (:mod:`c4.stations`), choose channels
   (:func:`c4.sources.select_channels`), fetch the files to scratch in parallel; a file that
   cannot be fetched after retries makes the day *failed*: it is not marked complete, the shard
   finishes its other days, skips its stack and raises :class:`ShardIncomplete` (``c4
   correlate`` exits 1), so a re-run retries it;
4. preprocess every channel (:mod:`c4.preprocess`: kernels in threads, each channel written in
   place into one row of the day's records);
5. whitened window spectra and correlations of all pairs (Rust kernels), one pair partition
   at a time (:mod:`c4.daywork`: blocks of source x receiver channels);
6. write the day's correlations to the results store, one pair partition at a time (a writer
   thread writes a partition while the next is correlated; at most two are in memory), then its
   manifest entry; clean scratch.

Then the shard's stacks (``processing.stack_methods``) are built from the daily files in day
order, one pair partition at a time, and written as ``shards/<label>.zarr``, followed by the
shard's manifest entry, unless some days were empty (a shard where every day is empty raises
:class:`ShardEmpty` naming what was listed and the key pattern expected). Nothing
is random and the day order is fixed, so a resumed run gives bit-identical results.
Per-stage wall times (fetch, preprocess, spectra, correlate, write, stack) are kept in the
manifest entries and in the ``shard_done`` event.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c4
from c4 import kernels
from c4.config import Config
from c4.dailyproduct import drop_work_dailies, keep_dailies
from c4.days import (
    DayAccount,
    DayFailed,
    ShardEmpty,
    ShardIncomplete,
    ShardTally,
    complete_day,
    day_record,
    input_fingerprint,
    record_empty,
    record_failed,
    why_compute,
    withdraw_day,
    withdraw_shard,
)
from c4.daywork import GeometryCache, correlate_partitions, make_pairs
from c4.objstore import Location
from c4.preprocess import ChannelTask, Preprocessor
from c4.progress import Reporter
from c4.shards import shard_days, shard_label
from c4.sources import ChannelId, DayListing, open_archive, select_channels
from c4.stacking import stack_attrs, stack_to_store
from c4.stations import Stations, load_stations
from c4.store import (
    PARTITIONING,
    day_entry,
    output_location,
    shard_entry,
    write_day_part,
    write_shard_entry,
)

log = logging.getLogger(__name__)

__all__ = ["STAGES", "DayFailed", "ScratchError", "ShardEmpty", "ShardIncomplete", "Timings",
           "check_scratch", "make_pairs", "run_shard"]

STAGES = ("fetch", "preprocess", "spectra", "correlate", "write", "stack")


class ScratchError(RuntimeError):
    """The scratch directory is missing or too full."""


@dataclass
class Timings:
    """Wall-clock seconds per pipeline stage."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0

    def add(self, other: dict[str, float]) -> None:
        for k, v in other.items():
            self.seconds[k] += v

    def as_dict(self) -> dict[str, float]:
        return {k: round(self.seconds.get(k, 0.0), 4) for k in STAGES}


def check_scratch(scratch: str | Path, min_free_gb: float) -> Path:
    """The scratch directory, or :class:`ScratchError` if missing or below ``min_free_gb``."""
    path = Path(scratch)
    if not path.is_dir():
        raise ScratchError(
            f"scratch directory {path} does not exist (is the scratch volume mounted? "
            "set output.scratch to an existing directory)")
    free_gb = shutil.disk_usage(path).free / 1e9
    if free_gb < min_free_gb:
        raise ScratchError(f"scratch directory {path} has {free_gb:.2f} GB free, less than "
                           f"output.min_free_gb = {min_free_gb} GB")
    return path


class _Shard:
    def __init__(self, config: Config, index: int, reporter: Reporter,
                 redo: set[dt.date] | str | None = None) -> None:
        self.config = config
        self.index = index
        self.reporter = reporter
        self.days = shard_days(config, index)
        self.label = shard_label(config, index)
        self.fingerprint = config.fingerprint()
        self.out: Location = output_location(config.output.output, config.data.endpoint_url)
        self.timings = Timings()
        self.archive = open_archive(config.data, cache=self.out)
        self.stations: Stations | None = None
        self.geometry: GeometryCache = {}
        self.redo = redo
        self._listings: dict[dt.date, DayListing] = {}
        self._listed_s: dict[dt.date, float] = {}
        self.work_root: Path | None = None

    # ------------------------------------------------------------------------------ one day
    def run_day(self, day: dt.date, listing: DayListing, pre: Preprocessor, work: Path
                ) -> dict[str, Any]:
        """Correlate one day of ``listing`` and write its partitions; returns the day's
        manifest fields (``channels``: the :class:`c4.days.DayAccount`)."""
        cfg, p = self.config, self.config.processing
        t = Timings()
        n_parts = cfg.output.pair_partitions
        info: dict[str, Any] = {"n_files": 0, "n_channels": 0, "n_pairs": 0, "parts": [],
                                "n_parts": n_parts, "partitioning": PARTITIONING}
        assert self.stations is not None
        stations = self.stations
        account = DayAccount(listing)
        with t.stage("fetch"):
            stations.load({c.station_id for c in listing.channels} & stations.known)
            channels = select_channels(listing.channels, cfg.data, stations.known,
                                       sampling_rate=p.sampling_rate,
                                       rates=stations.rates_on(listing.channels, day))
            coords = stations.coords_on({c.station_id for c in channels}, day)
            account.chosen(channels, stations, coords)
            channels = [c for c in channels if c.station_id in coords]
            fetched = self.archive.fetch([k for c in channels for k in listing.keys(c)], work)
        account.fetched(listing, fetched)
        if fetched.failed:
            raise DayFailed(f"{len(fetched.failed)} of "
                            f"{sum(len(listing.keys(c)) for c in channels)} "
                            f"files could not be fetched, e.g. {min(fetched.failed)}: "
                            f"{fetched.failed[min(fetched.failed)]}", account.channels)
        info["channels"] = account.channels
        local = fetched.local
        info["n_files"] = len(local)
        npts = round(cfg.data.day_length_s * p.sampling_rate)
        start = dt.datetime(day.year, day.month, day.day).isoformat() + "Z"
        f1 = p.freqmin
        pre_filt = (0.5 * f1, f1, p.freqmax, min(1.5 * p.freqmax, 0.49 * p.sampling_rate))
        tasks = []
        for c in channels:
            paths = tuple(str(local[k]) for k in listing.keys(c) if k in local)
            if not paths:
                said = [fetched.no_data[k] for k in listing.keys(c) if k in fetched.no_data]
                if said:
                    log.info("%s: %s", c.id, said[0])
                continue
            inv = stations.inventory_on(c.station_id, day) if p.remove_response else None
            if p.remove_response and inv is None:
                log.warning("dropping %s: remove_response needs StationXML metadata", c.id)
                account.drop(c.id, "no metadata", "remove_response needs StationXML metadata")
                continue
            tasks.append(ChannelTask(c.id, paths, start, npts, p.sampling_rate,
                                     p.min_data_fraction, p.remove_response, p.response_output,
                                     pre_filt, inv))
        with t.stage("preprocess"):
            records = pre.day(tasks)
        account.preprocessed(records.results)
        info["n_channels"] = len(records.kept)
        kept = [ChannelId.parse(r.channel) for r in records.kept]
        pairs, table = make_pairs(kept, coords, cfg, stations.orientations_on(kept, day),
                                  self.geometry)
        if len(pairs) == 0:
            log.warning("day %s: no pairs to correlate (%d channels with data)", day, len(kept))
            return {**info, "timings": t.as_dict()}
        threads = p.threads or None
        with t.stage("spectra"):
            spec = kernels.spectra(records.data, p.sampling_rate, gaps=records.gaps,
                                   threads=threads, **p.spectra_options())
            names = [r.channel for r in records.kept]
            del records
        info["rejected_windows"] = dict(zip(names, spec.rejected_counts(), strict=True))
        info["windows_per_channel"] = int(spec.valid.shape[1])
        account.windows(names, spec.rejected_counts(), info["windows_per_channel"])
        if spec.muted is not None and spec.muted.any():
            info["muted_samples"] = {c: int(m) for c, m in zip(names, spec.muted, strict=True)
                                     if m}
        done = correlate_partitions(
            day, spec, names, pairs, table, n_parts, p,
            lambda result, part: write_day_part(self.out, result, part, work), t)
        del spec
        info["parts"], info["n_pairs"] = done.parts, done.n_pairs
        if done.n_dropped:
            log.info("day %s: %d pairs without a common valid window", day, done.n_dropped)
        info["timings"] = t.as_dict()
        return info

    # ------------------------------------------------------------------------------ the shard
    def run(self) -> dict[str, Any]:
        cfg, rep = self.config, self.reporter
        t_start = time.perf_counter()
        methods = list(cfg.processing.stack_methods)
        previous = shard_entry(self.out, self.index)
        self.stations = load_stations(cfg.data, self.archive)
        if (previous is not None and previous.get("fingerprint") == self.fingerprint
                and previous.get("stack_methods", methods) == methods
                and all(self.why(d, day_entry(self.out, d)) is None for d in self.days)):
            log.info("shard %s (%d) already complete, skipping", self.label, self.index)
            drop_work_dailies(self.out, self.days)  # left by a run killed after the entry
            rep.event("shard_skipped", shard=self.index, label=self.label)
            return {**previous, "shard_skipped": True}
        if previous is not None:  # its days or its stack change from here on
            withdraw_shard(self.out, self.index)
        scratch = check_scratch(cfg.scratch_dir(), cfg.output.min_free_gb)
        # this run's own folder (runs sharing a scratch folder never touch each other's
        # files); run_shard removes it however the run ends
        work_root = self.work_root = Path(tempfile.mkdtemp(prefix=f"c4-{self.label}-",
                                                           dir=scratch))
        tally = ShardTally(self.label, self.days)
        rep.event("shard_start", shard=self.index, label=self.label,
                  first_day=self.days[0].isoformat(), last_day=self.days[-1].isoformat())
        with Preprocessor(cfg.processing.workers, cfg.processing.preprocess) as pre, rep.task(
                f"shard {self.label}: days", total=len(self.days)) as task:
            for day in self.days:
                tally.add(day, *self.run_one(day, pre, scratch, work_root / day.isoformat()))
                task.advance()
        summary: dict[str, Any] = {
            "shard": self.index, "label": self.label, "store": None, **tally.fields(),
            "fingerprint": self.fingerprint, "stack_methods": methods,
            "c4_version": c4.__version__}
        tally.check(summary, lambda: [self.listing(d) for d in self.days], self.archive)
        with self.timings.stage("stack"):
            summary["store"] = self._stack(work_root)
            if not tally.incomplete():  # the kept dailies (output.daily), from the work files
                summary.update(keep_dailies(self.out, cfg, self.days, self.index, self.label,
                                            work_root))
        summary["timings"] = self.timings.as_dict()
        summary["seconds"] = round(time.perf_counter() - t_start, 3)
        if tally.incomplete():
            rep.event("shard_incomplete", **summary)
            return summary
        write_shard_entry(self.out, self.index, summary)
        drop_work_dailies(self.out, self.days)
        rep.event("shard_done", **summary)
        return summary

    def listing(self, day: dt.date) -> DayListing:
        """The day's listing (listed once per run)."""
        if day not in self._listings:
            t0 = time.perf_counter()
            self._listings[day] = self.archive.list_day(day)
            self._listed_s[day] = time.perf_counter() - t0
        return self._listings[day]

    def why(self, day: dt.date, entry: dict[str, Any] | None) -> str | None:
        assert self.stations is not None
        stations = self.stations
        return why_compute(day, entry, self.fingerprint, self.redo,
                           lambda: input_fingerprint(self.listing(day), stations))

    def run_one(self, day: dt.date, pre: Preprocessor, scratch: Path, work: Path
                ) -> tuple[str, str]:
        """Bring ``day`` up to date: (outcome, detail), outcome one of ``skipped``,
        ``complete``, ``empty``, ``failed``."""
        cfg, rep = self.config, self.reporter
        entry = day_entry(self.out, day)
        why = self.why(day, entry)
        if why is None:
            log.info("day %s already complete, skipping", day.isoformat())
            return "skipped", ""
        if why:
            log.warning("day %s: recomputing: %s", day.isoformat(), why)
        elif (record := day_record(self.out, day)) is not None:
            log.info("day %s was %s before; listing it again", day.isoformat(), record["state"])
        if entry is not None:  # never both old and new files under "complete"
            withdraw_day(self.out, day)
        listing = self.listing(day)
        assert self.stations is not None
        inputs = input_fingerprint(listing, self.stations)
        base = {"day": day.isoformat(), "shard": self.index, "label": self.label,
                "fingerprint": self.fingerprint, "config": cfg.to_toml(),
                "c4_version": c4.__version__,
                "listed": listing.where, "pattern": listing.pattern}
        if not listing.files:
            record_empty(self.out, base, listing)
            rep.event("day_empty", shard=self.index, day=day.isoformat(), listed=listing.where)
            return "empty", ""
        check_scratch(scratch, cfg.output.min_free_gb)
        work.mkdir(parents=True, exist_ok=True)
        try:
            info = self.run_day(day, listing, pre, work)
        except DayFailed as exc:
            record_failed(self.out, base, exc, inputs)
            rep.event("day_failed", shard=self.index, day=day.isoformat(), reason=str(exc))
            return "failed", str(exc)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        t = Timings()
        t.add(info.pop("timings"))
        t.add({"fetch": self._listed_s.get(day, 0.0)})  # the listing is part of fetching
        group_s = cfg.processing.substack * cfg.processing.step or cfg.data.day_length_s
        complete_day(self.out, {**base, "state": "complete", "group_seconds": group_s, **info,
                                "inputs": inputs, "timings": t.as_dict()})
        self.timings.add(t.as_dict())
        rep.event("day_done", shard=self.index, day=day.isoformat(),
                  channels=info["n_channels"], pairs=info["n_pairs"], timings=t.as_dict())
        return "complete", ""

    def _stack(self, scratch: Path) -> str | None:
        entries = [e for day in self.days
                   if (e := day_entry(self.out, day)) is not None and e.get("parts")]
        if not entries:
            log.warning("shard %s: no day with correlations; nothing to stack", self.label)
            return None
        days = [dt.date.fromisoformat(e["day"]) for e in entries]
        attrs = stack_attrs(self.config, days, product="shard", shard=self.index,
                            label=self.label)
        rel = f"shards/{self.label}.zarr"
        n_pairs = stack_to_store(self.out, entries, self.config.processing.stack_methods,
                                 self.config, attrs, rel, scratch)
        return rel if n_pairs else None


def run_shard(config: Config, index: int, *, reporter: Reporter | None = None,
              redo: set[dt.date] | str | None = None) -> dict[str, Any]:
    """Run shard ``index`` of ``config`` (see the module docstring); returns its summary (also
    written as the shard's manifest entry when every day is complete). ``redo``: days (or
    ``"all"``) to recompute even when complete (``c4 correlate --redo``)."""
    rep = reporter if reporter is not None else Reporter(quiet=True)
    shard = _Shard(config, index, rep, redo)
    try:
        return shard.run()
    finally:
        if shard.work_root is not None:
            shutil.rmtree(shard.work_root, ignore_errors=True)
