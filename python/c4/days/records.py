"""Day records in the manifest: the states, the records of empty and failed days, withdrawing
entries before a recompute, and the exceptions a shard run ends with."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

from c4.days.account import DayAccount
from c4.objstore import Location
from c4.sources import DayListing

log = logging.getLogger("c4.pipeline")

STATES = ("complete", "empty", "failed")
"""Day states, see the module docstring."""
INCOMPLETE = "manifest/incomplete"
"""Where empty and failed days are recorded (one JSON per day)."""


class DayFailed(RuntimeError):
    """A day's files could not all be fetched (after retries): the day is not complete."""

    def __init__(self, message: str, channels: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.channels = channels or {}


class ShardIncomplete(RuntimeError):
    """Some days of the shard failed; the others are complete, a re-run retries the rest
    (``c4 correlate`` exits 1)."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


class ShardEmpty(ShardIncomplete):
    """No day of the shard had any file: most likely a wrong ``data.source`` or layout."""


# ----------------------------------------------------------------------------------- records
def _record_key(day: dt.date) -> str:
    return f"{INCOMPLETE}/{day.isoformat()}.json"


def day_record(loc: Location, day: dt.date) -> dict[str, Any] | None:
    """The record of an empty or failed ``day``, or None."""
    key = _record_key(day)
    return json.loads(loc.read_bytes(key)) if loc.exists(key) else None


def day_records(loc: Location) -> dict[dt.date, dict[str, Any]]:
    """Every empty or failed day's record."""
    out = {}
    for name in loc.list_names(INCOMPLETE):
        if name.endswith(".json"):
            out[dt.date.fromisoformat(name[:-5])] = json.loads(
                loc.read_bytes(f"{INCOMPLETE}/{name}"))
    return out


def write_day_record(loc: Location, record: dict[str, Any]) -> None:
    """Record an empty or failed day (``record["state"]``; never marks it complete)."""
    assert record["state"] in STATES[1:]
    loc.write_bytes(_record_key(dt.date.fromisoformat(record["day"])),
                    json.dumps(record, indent=1, sort_keys=True).encode())


def clear_day_record(loc: Location, day: dt.date) -> None:
    """Forget that ``day`` was empty or failed (after it became complete)."""
    loc.delete(_record_key(day))


def withdraw_day(loc: Location, day: dt.date) -> None:
    """Remove the complete entry of ``day`` (before its files are written again)."""
    loc.delete(f"manifest/days/{day.isoformat()}.json")


def withdraw_shard(loc: Location, index: int) -> None:
    """Remove the entry of shard ``index`` (before any of its days or its stack change)."""
    loc.delete(f"manifest/shards/{index:04d}.json")


def remove_stale_parts(loc: Location, day: dt.date, parts: Iterable[int]) -> None:
    """Delete the daily files of ``day`` that its entry does not list (left by a run with
    other settings)."""
    keep = {f"part-{p:05d}.npz" for p in parts}
    folder = f"daily/{day.isoformat()}"
    stale = [f"{folder}/{n}" for n in loc.list_names(folder) if n not in keep]
    if stale:
        loc.delete_keys(stale)


def record_empty(loc: Location, base: dict[str, Any], listing: DayListing) -> None:
    """Record the day of ``base`` (entry fields) as empty: nothing listed in ``listing``."""
    log.info("day %s is empty: no files listed in %s (expected %s)", base["day"],
                listing.where, listing.pattern)
    write_day_record(loc, {**base, "state": "empty", "n_other": listing.n_other,
                           "n_unselected": listing.n_unselected})


def record_failed(loc: Location, base: dict[str, Any], exc: DayFailed,
                  inputs: dict[str, Any]) -> None:
    """Record the day of ``base`` as failed (``exc``: why)."""
    log.error("day %s failed, not marked complete: %s", base["day"], exc)
    write_day_record(loc, {**base, "state": "failed", "reason": str(exc),
                           "channels": exc.channels, "inputs": inputs})


def complete_day(loc: Location, entry: dict[str, Any]) -> None:
    """Mark the day of ``entry`` complete (after its daily files), forget that it was empty
    or failed, and delete daily files the entry does not list."""
    from c4.store import write_day_entry

    day = dt.date.fromisoformat(entry["day"])
    write_day_entry(loc, {**entry, **DayAccount.totals(entry.get("channels", {}))})
    clear_day_record(loc, day)
    remove_stale_parts(loc, day, entry["parts"])
