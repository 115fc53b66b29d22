"""``c4 report OUTPUT``: what an output store holds, per shard and day, from its manifest.

Every day that a run has seen is listed with its state (:mod:`c4.days`: ``complete``,
``empty``, ``failed``), channels correlated, pairs written, correlation windows kept and
rejected, files listed / fetched / read and channels dropped per reason; every shard with its
state (``complete`` when its manifest entry exists, else ``incomplete``) and counts of days per
state. ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import typer

from c4.days import STATES, day_records
from c4.store import day_entry, output_location, shard_entry

__all__ = ["day_row", "register", "store_report"]


def day_row(entry: dict[str, Any], state: str) -> dict[str, Any]:
    """One line of the report from a day's manifest entry or record."""
    channels = entry.get("channels") or {}
    rejected = entry.get("windows_rejected")
    kept = entry.get("windows_kept")
    if kept is None and state == "complete":  # entries of c4 before day accounts
        per = entry.get("windows_per_channel", 0)
        rejected = sum(sum(c.values()) for c in entry.get("rejected_windows", {}).values())
        kept = entry.get("n_channels", 0) * per - rejected
    dropped = entry.get("channels_dropped")
    if dropped is None:
        dropped = dict(Counter(c["dropped"] for c in channels.values() if c.get("dropped")))
    detail = {"empty": f"no files in {entry.get('listed')} (expected "
                       f"{entry.get('pattern')})",
              "failed": entry.get("reason", "")}.get(state, "")
    return {
        "day": entry["day"], "state": state, "shard": entry.get("shard"),
        "label": entry.get("label"),
        "channels": entry.get("n_channels", 0) if state == "complete" else 0,
        "channels_listed": len(channels), "pairs": entry.get("n_pairs", 0),
        "windows_kept": kept or 0, "windows_rejected": rejected or 0,
        "files_listed": entry.get("files_listed",
                                  sum(c.get("listed", 0) for c in channels.values())),
        "files_fetched": entry.get("files_fetched", entry.get("n_files", 0)),
        "files_read": entry.get("files_read", 0),
        "channels_dropped": dropped, "fingerprint": entry.get("fingerprint"),
        "detail": detail,
    }


def store_report(url: str, endpoint_url: str = "") -> dict[str, Any]:
    """The report of the output store at ``url`` (see the module docstring);
    FileNotFoundError when it has no c4 manifest."""
    loc = output_location(url, endpoint_url)
    rows: dict[dt.date, dict[str, Any]] = {}
    for name in loc.list_names("manifest/days"):
        if name.endswith(".json"):
            day = dt.date.fromisoformat(name[:-5])
            entry = day_entry(loc, day)
            if entry is not None:
                rows[day] = day_row(entry, "complete")
    for day, record in day_records(loc).items():
        rows.setdefault(day, day_row(record, record["state"]))
    indexes = {int(n[:-5]) for n in loc.list_names("manifest/shards") if n.endswith(".json")}
    indexes |= {r["shard"] for r in rows.values() if r["shard"] is not None}
    if not rows and not indexes:
        raise FileNotFoundError(f"{url}: no c4 manifest there (is it an output.output of "
                                "c4 correlate?)")
    shards = []
    for index in sorted(indexes):
        entry = shard_entry(loc, index)
        days = [rows[d] for d in sorted(rows) if rows[d]["shard"] == index]
        counts = Counter(r["state"] for r in days)
        label = entry["label"] if entry else (days[0]["label"] if days else str(index))
        shards.append({
            "shard": index, "label": label,
            "state": "complete" if entry is not None else "incomplete",
            "store": entry.get("store") if entry else None,
            "counts": {s: counts.get(s, 0) for s in STATES}, "days": days,
        })
    totals = Counter(r["state"] for r in rows.values())
    return {"output": url, "shards": shards,
            "days": {s: totals.get(s, 0) for s in STATES},
            "pairs": sum(r["pairs"] for r in rows.values()),
            "windows_kept": sum(r["windows_kept"] for r in rows.values()),
            "windows_rejected": sum(r["windows_rejected"] for r in rows.values())}


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text, one line per shard and day."""
    lines = []
    for s in report["shards"]:
        c = s["counts"]
        store = f"; store {s['store']}" if s["store"] else ""
        lines.append(f"shard {s['label']} ({s['shard']}): {s['state']}, {c['complete']} "
                     f"complete, {c['empty']} empty, {c['failed']} failed{store}")
        for r in s["days"]:
            if r["state"] == "complete":
                drops = ", ".join(f"{n} {k}" for k, n in sorted(r["channels_dropped"].items()))
                text = (f"{r['channels']} channels, {r['pairs']} pairs, windows "
                        f"{r['windows_kept']} kept, {r['windows_rejected']} rejected"
                        + (f"; dropped: {drops}" if drops else ""))
            else:
                text = r["detail"]
            lines.append(f"  {r['day']}  {r['state']:<8}  {text}")
    d = report["days"]
    lines.append(f"{report['output']}: {d['complete']} days complete, {d['empty']} empty, "
                 f"{d['failed']} failed; {report['pairs']} day-pairs, windows "
                 f"{report['windows_kept']} kept, {report['windows_rejected']} rejected")
    return "\n".join(lines)


def report_command(
    output: str = typer.Argument(..., help="Output store (output.output: path or s3://)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    endpoint_url: str = typer.Option("", envvar="C4_ENDPOINT_URL",
                                     help="S3 endpoint (default AWS_ENDPOINT_URL / AWS)."),
) -> None:
    """Per shard and day: complete / empty / failed, channels, pairs, windows kept and
    rejected."""
    import sys

    try:
        report = store_report(output, endpoint_url)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write((json.dumps(report, indent=1) if as_json else format_report(report))
                     + "\n")


def register(app: typer.Typer) -> None:
    """Add ``c4 report`` to the top-level app."""
    app.command("report")(report_command)
