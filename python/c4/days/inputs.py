"""The input fingerprint of a day and when a complete day must be computed again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from c4.sources import DayListing
from c4.stations import Stations


def why_compute(day: dt.date, entry: dict[str, Any] | None, fingerprint: str,
                redo: set[dt.date] | str | None, inputs: Callable[[], dict[str, Any]]
                ) -> str | None:
    """Why ``day`` must be computed ("" when it simply is not complete), or None to keep the
    complete ``entry``; ``inputs`` gives today's input fingerprint (listing the day)."""
    if redo == "all" or (isinstance(redo, set) and day in redo):
        return "--redo asks for it"
    if entry is None:
        return ""
    if entry.get("fingerprint") != fingerprint:
        return (f"it was made with other settings (fingerprint {entry.get('fingerprint')}, "
                f"now {fingerprint})")
    why = input_changes(entry, inputs())
    return f"its inputs changed since it was computed ({why})" if why else None


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
