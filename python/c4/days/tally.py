"""How a shard run ends: its days by outcome, and the one line of a shard without files."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from c4.days.records import ShardEmpty, ShardIncomplete
from c4.sources import Archive, DayListing

log = logging.getLogger("c4.pipeline")


class ShardTally:
    """The days of one shard run by outcome (``complete``: computed now, ``skipped``,
    ``empty``, ``failed``) and how the run ends."""

    def __init__(self, label: str, days: Sequence[dt.date]) -> None:
        self.label, self.days = label, list(days)
        self.by: dict[str, list[dt.date]] = {k: [] for k in ("complete", "skipped", "empty",
                                                             "failed")}
        self.reasons: dict[dt.date, str] = {}

    def add(self, day: dt.date, outcome: str, detail: str = "") -> None:
        self.by[outcome].append(day)
        if detail:
            self.reasons[day] = detail

    def fields(self) -> dict[str, list[str]]:
        """The summary's day lists."""
        names = {"complete": "days_computed", "skipped": "days_skipped",
                 "empty": "days_empty", "failed": "days_failed"}
        return {"days": [d.isoformat() for d in self.days],
                **{names[k]: [d.isoformat() for d in v] for k, v in self.by.items()}}

    def check(self, summary: dict[str, Any], listings: Callable[[], list[DayListing]],
              archive: Archive) -> None:
        """Raise :class:`ShardIncomplete` when days failed, :class:`ShardEmpty` when every
        day is empty."""
        failed, empty, n = self.by["failed"], self.by["empty"], len(self.days)
        if failed:
            first = min(failed)
            note = f"; {len(empty)} day(s) had no files" if empty else ""
            raise ShardIncomplete(
                f"shard {self.label}: {len(failed)} of {n} days failed and are not marked "
                f"complete ({first}: {self.reasons.get(first, '')}){note}; the other days are "
                "kept, run the same command again to retry the failed ones", summary)
        if len(empty) == n:
            raise ShardEmpty(empty_shard_message(self.label, listings(), archive), summary)

    def incomplete(self) -> bool:
        """True (and a warning) when some days were empty: the shard is not marked
        complete."""
        empty = self.by["empty"]
        if empty:
            log.warning("shard %s: %d of %d days had no files (%s): not marked complete; a "
                        "re-run lists them again", self.label, len(empty), len(self.days),
                        ", ".join(d.isoformat() for d in empty[:5])
                        + (" ..." if len(empty) > 5 else ""))
        return bool(empty)


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
