"""The account of a day's channels: files listed, fetched and read, windows kept and rejected,
and why a channel was dropped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from c4.sources import ChannelId, DayListing, FetchReport
from c4.stations import Stations

DROP_KINDS = ("corrupt", "too little data", "no data", "no metadata", "bad metadata", "QC",
              "not chosen")
"""Why a listed channel contributes nothing to a day (``dropped`` in its account)."""


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
