"""What became of each day of a shard: its state, the fingerprint of its inputs, and the account
of its channels (see ``docs/results.md``, "Day states").

A day is in one of three states:

- **complete**: every listed file was fetched (after retries) and then used or dropped for a
  data reason; its entry ``manifest/days/YYYY-MM-DD.json`` exists (written after its daily
  files) and is never recomputed unless its inputs or settings change or ``--redo`` asks;
- **empty**: no file was listed for the selection; recorded as
  ``manifest/incomplete/YYYY-MM-DD.json`` (``state = "empty"``, with the folder or prefix
  listed and the key pattern expected), listed again on every run;
- **failed**: a file could not be fetched after retries; recorded the same way
  (``state = "failed"``, with the errors), computed again on the next run.

A day entry keeps the fingerprint of its inputs (:func:`input_fingerprint`: the listed keys with
sizes and version tags, and each listed station's metadata file), so a re-run notices new or
replaced files and metadata that appeared since (:func:`input_changes`) and recomputes the day.
Before a day or shard is recomputed its entry is withdrawn (:func:`withdraw_day`,
:func:`withdraw_shard`), so old and new files are never both reachable under "complete".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from c4.objstore import Location
from c4.sources import Archive, ChannelId, DayListing, FetchReport
from c4.stations import Stations

log = logging.getLogger("c4.pipeline")

__all__ = [
    "INCOMPLETE",
    "STATES",
    "DayAccount",
    "DayFailed",
    "ShardEmpty",
    "ShardIncomplete",
    "clear_day_record",
    "day_record",
    "day_records",
    "empty_shard_message",
    "input_changes",
    "input_fingerprint",
    "parse_redo",
    "remove_stale_parts",
    "withdraw_day",
    "withdraw_shard",
    "write_day_record",
]

STATES = ("complete", "empty", "failed")
"""Day states, see the module docstring."""
INCOMPLETE = "manifest/incomplete"
"""Where empty and failed days are recorded (one JSON per day)."""
DROP_KINDS = ("corrupt", "too little data", "no data", "no metadata", "bad metadata", "QC",
              "not chosen")
"""Why a listed channel contributes nothing to a day (``dropped`` in its account)."""


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


# ------------------------------------------------------------------------------------ inputs
def input_fingerprint(listing: DayListing, stations: Stations) -> dict[str, Any]:
    """The day's inputs: every listed file ``{key: [size, version]}`` (version: S3 ETag or
    local mtime in ns), each listed station's metadata (:meth:`Stations.metadata_tag`, None
    without metadata), and a ``digest`` of both."""
    files = {o.key: [o.size, o.etag] for objs in listing.files.values() for o in objs}
    metadata = {sid: stations.metadata_tag(sid)
                for sid in sorted({c.station_id for c in listing.files})}
    text = json.dumps({"files": files, "metadata": metadata}, sort_keys=True)
    return {"digest": hashlib.sha256(text.encode()).hexdigest()[:16], "files": files,
            "metadata": metadata}


def _some(names: Iterable[str]) -> str:
    items = sorted(names)
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def input_changes(entry: dict[str, Any], inputs: dict[str, Any]) -> str | None:
    """Why the complete day of ``entry`` must be recomputed with today's ``inputs``: new or
    replaced files, metadata that now exists or changed; None when nothing of that changed
    (files or metadata that disappeared keep the day as it is: an unmounted archive must not
    undo finished work)."""
    old = entry.get("inputs")
    if old is None:
        return ("it was recorded complete without any file by an older c4"
                if not entry.get("n_files") else None)
    if old.get("digest") == inputs["digest"]:
        return None
    before, now = old.get("files", {}), inputs["files"]
    added = set(now) - set(before)
    replaced = {k for k in set(now) & set(before) if list(now[k]) != list(before[k])}
    meta_old, meta_new = old.get("metadata", {}), inputs["metadata"]
    appeared = {s for s, tag in meta_new.items() if tag is not None and meta_old.get(s) is None}
    changed = {s for s, tag in meta_new.items()
               if tag is not None and meta_old.get(s) not in (None, tag)}
    why = []
    if added:
        why.append(f"{len(added)} new file(s): {_some(added)}")
    if replaced:
        why.append(f"{len(replaced)} replaced file(s): {_some(replaced)}")
    if appeared:
        why.append(f"metadata of {_some(appeared)} now exist(s)")
    if changed:
        why.append(f"metadata of {_some(changed)} changed")
    return "; ".join(why) or None


def parse_redo(values: Sequence[str] | None) -> set[dt.date] | str | None:
    """``--redo`` values: ``all`` or days ``YYYY-MM-DD`` (ValueError otherwise)."""
    if not values:
        return None
    if any(v.strip().lower() == "all" for v in values):
        return "all"
    out = set()
    for v in values:
        for part in v.split(","):
            try:
                out.add(dt.date.fromisoformat(part.strip()))
            except ValueError:
                raise ValueError(f"--redo {part!r}: expected a day YYYY-MM-DD or 'all'"
                                 ) from None
    return out


# ----------------------------------------------------------------------------------- account
def _drop_kind(reason: str, corrupt_files: int) -> str:
    if reason.startswith("only "):
        return "too little data"
    if reason.startswith("response removal failed"):
        return "bad metadata"
    if reason == "no readable data" and not corrupt_files:
        return "no data"
    return "corrupt"


class DayAccount:
    """Per listed channel: files ``listed``, ``fetched`` and ``read`` (decoded), windows
    ``kept`` and ``rejected`` (per reason), and why it was ``dropped`` (one of
    :data:`DROP_KINDS`, with the ``reason`` in words), or None when it was correlated."""

    def __init__(self, listing: DayListing) -> None:
        self.channels: dict[str, dict[str, Any]] = {
            ch.id: {"listed": len(objs), "fetched": 0, "read": 0, "dropped": None,
                    "reason": None} for ch, objs in sorted(listing.files.items())}

    def drop(self, channel: str, kind: str, reason: str) -> None:
        row = self.channels[channel]
        if row["dropped"] is None:
            row["dropped"], row["reason"] = kind, reason

    def chosen(self, chosen: Sequence[ChannelId], stations: Stations,
               with_coords: Iterable[str]) -> None:
        """Mark the channels that :func:`c4.sources.select_channels` left out, and those of
        stations without a metadata epoch covering the day."""
        picked = {c.id for c in chosen}
        known, located = stations.known, set(with_coords)
        for cid in self.channels:
            sid = cid.rsplit(".", 2)[0]
            if sid not in known:
                self.drop(cid, "no metadata", f"no station metadata for {sid}")
            elif cid not in picked:
                self.drop(cid, "not chosen", "another location or band of the station was")
            elif sid not in located:
                self.drop(cid, "no metadata", f"no metadata epoch of {sid} covers the day")

    def fetched(self, listing: DayListing, report: FetchReport) -> None:
        for ch in listing.files:
            keys = listing.keys(ch)
            self.channels[ch.id]["fetched"] = sum(k in report.local for k in keys)
            said = [report.no_data[k] for k in keys if k in report.no_data]
            if said and not self.channels[ch.id]["fetched"]:
                self.drop(ch.id, "no data", said[0])

    def preprocessed(self, results: Iterable[Any]) -> None:
        """Take :class:`c4.preprocess.ChannelResult` s (their messages and drop reasons)."""
        for r in results:
            row = self.channels[r.channel]
            corrupt = sum(m.startswith("skipping corrupt file") for _, m in r.messages)
            row["read"] = max(0, row["fetched"] - corrupt)
            if r.reason is not None:
                self.drop(r.channel, _drop_kind(r.reason, corrupt), r.reason)

    def windows(self, names: Sequence[str], rejected: Sequence[dict[str, int]],
                per_channel: int) -> None:
        for name, counts in zip(names, rejected, strict=True):
            row = self.channels[name]
            n_rejected = sum(counts.values())
            row["windows_kept"] = per_channel - n_rejected
            row["windows_rejected"] = {k: v for k, v in counts.items() if v}
            if per_channel and n_rejected >= per_channel:
                self.drop(name, "QC", f"all {per_channel} windows rejected")

    @staticmethod
    def totals(channels: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Totals of an account's ``channels``: files, windows kept and rejected, channels
        dropped per kind."""
        rows = channels.values()
        dropped: dict[str, int] = {}
        for r in rows:
            if r["dropped"] is not None:
                dropped[r["dropped"]] = dropped.get(r["dropped"], 0) + 1
        return {"files_listed": sum(r["listed"] for r in rows),
                "files_fetched": sum(r["fetched"] for r in rows),
                "files_read": sum(r["read"] for r in rows),
                "windows_kept": sum(r.get("windows_kept", 0) for r in rows),
                "windows_rejected": sum(sum(r.get("windows_rejected", {}).values())
                                        for r in rows),
                "channels_dropped": dropped}


# ------------------------------------------------------------------------------- empty shard
def empty_shard_message(label: str, listings: Sequence[DayListing], archive: Archive) -> str:
    """One line for a shard where no day listed any file: what was listed, what was expected,
    and what was seen instead."""
    first, last = listings[0], listings[-1]
    where = first.where if first.where == last.where else f"{first.where} .. {last.where}"
    seen = []
    other = sum(x.n_other for x in listings)
    unselected = sum(x.n_unselected for x in listings)
    if other:
        seen.append(f"{other} names there do not follow data.layout = {archive.layout!r}")
    if unselected:
        seen.append(f"{unselected} files are of channels the selection (data.network, "
                    "station, location, channel, components) excludes")
    hint = archive.missing_hint()
    if hint:
        seen.append(hint)
    extra = f" ({'; '.join(seen)})" if seen else ""
    return (f"shard {label}: no files for any of its {len(listings)} day(s): listed {where}, "
            f"expected keys like {first.pattern}{extra}; check data.source and data.layout")
