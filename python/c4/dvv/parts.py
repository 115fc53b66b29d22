"""Batch shard parts of a dv/v product (``c4 dvv`` as an array job).

Child ``i`` measures the moving windows centred in shard ``i`` (a month or day, as
``data.shard``) and writes ``<product>.parts/<label>.zarr``, then its entry ``<label>.json``:
the shard, the settings tag (a hash of everything its numbers depend on: processing
fingerprint, ``[dvv]`` settings, band, the moving stacks' and the reference's days) and the
labels of every shard that holds a window centre. An entry is first written as not complete
and only marked complete after its store, so a retried or killed child never leaves a
complete entry beside half a store.

Parts are joined only when they share one settings tag (parts of different settings never
mix); :func:`open_parts` with ``complete=True`` (``c4 dvv --merge``) refuses while a shard
that holds window centres has no complete part.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

import numpy as np

from c4.config import Config
from c4.store import open_results, output_location

log = logging.getLogger(__name__)

__all__ = ["TAG_KEYS", "open_parts", "parts_url", "settings_tag", "shard_selection",
           "write_part_entry"]

TAG_KEYS = ("fingerprint", "method", "stack_method", "freqmin", "freqmax", "branch",
            "moving_days", "step_days", "stacks", "reference", "reference_days", "days",
            "dvv_settings")
"""Product attributes that decide its numbers: equal for every part of one product."""


def settings_tag(attrs: dict[str, Any]) -> str:
    """Hash (16 hex digits) of the :data:`TAG_KEYS` of a product's attributes."""
    doc = json.dumps({k: attrs.get(k) for k in TAG_KEYS}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def parts_url(url: str) -> str:
    """Folder of the shard parts of the product ``url``."""
    return f"{url.rstrip('/')}.parts"


def _ranges(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{labels[0]} .. {labels[-1]} ({len(labels)})"


def shard_selection(config: Config, index: int, centres: np.ndarray
                    ) -> tuple[np.ndarray, str, list[str]]:
    """For shard ``index``: the mask of the window ``centres`` (datetime64) it measures, its
    label, and the labels of every shard holding a centre. A ``ValueError`` when centres lie
    outside ``data.start .. data.end`` (no shard would measure them)."""
    from c4.shards import n_shards, shard_days, shard_label

    days = np.asarray(centres).astype("datetime64[D]")
    first, last = np.datetime64(config.data.start), np.datetime64(config.data.end)
    outside = (days < first) | (days > last)
    if outside.any():
        raise ValueError(f"moving-window centres {days[outside].min()} .. "
                         f"{days[outside].max()} lie outside data.start .. data.end "
                         f"({config.data.start} .. {config.data.end}): no shard measures "
                         "them; widen the dates or run c4 dvv without a shard index")
    wanted = {dt.date.fromisoformat(str(d)) for d in days}
    expected = [shard_label(config, i) for i in range(n_shards(config))
                if wanted.intersection(shard_days(config, i))]
    mine = shard_days(config, index)
    mask = (days >= np.datetime64(mine[0])) & (days <= np.datetime64(mine[-1]))
    return mask, shard_label(config, index), expected


def write_part_entry(url: str, endpoint_url: str, label: str, entry: dict[str, Any]) -> None:
    """Write the entry ``<label>.json`` of the part ``label`` of product ``url``."""
    output_location(parts_url(url), endpoint_url).write_bytes(
        f"{label}.json", json.dumps({"label": label, **entry}).encode())


def _entries(url: str, endpoint_url: str) -> list[dict[str, Any]]:
    loc = output_location(parts_url(url), endpoint_url)
    out = []
    for name in sorted(loc.list_names("")):
        if name.endswith(".json"):
            entry = json.loads(loc.read_bytes(name))
            if entry.get("complete"):
                out.append(entry)
    return out


def open_parts(url: str, endpoint_url: str = "", *, complete: bool = False) -> Any:
    """The complete shard parts of product ``url`` joined along ``time`` (an
    ``xarray.Dataset``). Parts of different settings are a ``ValueError``. Shards that hold
    window centres but have no complete part are listed in the attribute ``missing_shards``
    (with a warning), or with ``complete`` raise ``FileNotFoundError``."""
    import xarray as xr

    entries = _entries(url, endpoint_url)
    if not entries:
        raise FileNotFoundError(f"{url}: no dv/v product and no complete shard part")
    tags: dict[str, list[str]] = {}
    for e in entries:
        tags.setdefault(str(e.get("tag")), []).append(str(e["label"]))
    if len(tags) > 1:
        groups = "; ".join(_ranges(sorted(v)) for v in tags.values())
        raise ValueError(f"{url}: shard parts were made with different settings ({groups}); "
                         "re-run every shard with one setting, or write to another --output")
    done = {str(e["label"]) for e in entries}
    missing = sorted(set(entries[0]["expected"]) - done)
    if missing and complete:
        raise FileNotFoundError(
            f"{url}: {len(missing)} of {len(entries[0]['expected'])} shards have no complete "
            f"part ({_ranges(missing)}); run them (c4 submit --rerun JOB) before --merge")
    base = parts_url(url)
    parts = [open_results(f"{base}/{e['label']}.zarr", endpoint_url=endpoint_url).load()
             for e in entries]
    parts = [p for p in parts if p.sizes.get("time", 0)]
    if not parts:
        raise FileNotFoundError(f"{url}: no complete shard part holds a window centre yet")
    ds = xr.concat(parts, dim="time", data_vars="minimal", coords="minimal",
                   combine_attrs="override").sortby("time")
    ds.attrs.pop("missing_shards", None)
    if missing:
        log.warning("%s: %d shards have no complete part yet (%s): the product is partial",
                    url, len(missing), _ranges(missing))
        ds.attrs["missing_shards"] = missing
    return ds
