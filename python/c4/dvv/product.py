"""``c4 dvv``: dv/v per pair and time step, and network means, from a results store.

Steps (each reuses a product when it is current):

1. **Moving stacks** ``stacks/moving_<L>d_<S>d.zarr`` (:mod:`c4.moving`) of the completed days,
   made with ``dvv.stack_method``; an existing store is reused when it covers exactly the
   completed days with the same settings (so a re-run picks up days that appeared since).
2. **Reference** (``dvv.reference``): a stack of the reference days, ``stacks/<name>.zarr``
   written by :func:`c4.stacking.stack_to_store`, or a given stack store.
3. **Measurement** per batch of pairs (:func:`c4.dvv.measure.measure`), then the error-weighted
   **network mean** per time step and component (:func:`c4.dvv.network.network_mean`).
4. One Zarr store (default ``<output>/dvv/<method>.zarr``), or on Batch, with a shard index, one
   part per shard (a month or day of window centres, as ``data.shard``) below
   ``<store>.parts/`` with a completion entry each (:mod:`c4.dvv.parts`); :func:`open_dvv`
   reads either, and ``c4 dvv --merge`` joins the parts into the store once every shard is
   there. See ``docs/results.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import c4
from c4.config import Config
from c4.dvv import parts
from c4.dvv.config import DvvConfig, parse_reference
from c4.dvv.measure import measure
from c4.dvv.network import network_mean
from c4.moving import moving_name, moving_stack_results
from c4.stacking import data_entries, stack_attrs, stack_to_store
from c4.store import open_results, output_location, product_attrs

log = logging.getLogger(__name__)

__all__ = ["DVV_SIGN_CONVENTION", "merge_parts", "open_dvv", "prepare", "run_dvv",
           "settings_with"]

DVV_SIGN_CONVENTION = ("dv/v > 0: faster medium than the reference (arrivals earlier); "
                       "dt/t = -dv/v; values are fractions (0.01 = 1 %)")
PAIR_BATCH = 2000
"""Pairs measured per batch (bounds memory: batch x windows x lags floats)."""


def settings_with(config: Config, **overrides: Any) -> DvvConfig:
    """``config.dvv`` with the non-None ``overrides`` applied (validated)."""
    from pydantic import ValidationError

    data = config.dvv.model_dump()
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DvvConfig.model_validate(data)
    except ValidationError as err:
        raise ValueError("; ".join(
            f"dvv.{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors())) from None


def _split(url: str) -> tuple[str, str]:
    parent, _, name = str(url).rstrip("/").rpartition("/")
    return parent or ".", name


def _missing(what: str, rel: str) -> FileNotFoundError:
    return FileNotFoundError(f"{what} {rel} is missing or out of date; a shard run does not "
                             "build it (children would race): run c4 dvv --prepare first")


def _moving_store(config: Config, s: DvvConfig, entries: list[dict[str, Any]],
                  build: bool = True) -> str:
    """The moving-stack store of ``s``: reused when it was made from exactly the days of
    ``entries`` with this config and holds ``s.stack_method``, else (re)built (or, with
    ``build`` False, an error)."""
    name = moving_name(s.moving_days, s.step_days)
    rel = f"stacks/{name}.zarr"
    url = f"{config.output.output.rstrip('/')}/{rel}"
    attrs = product_attrs(url, config.data.endpoint_url) or {}
    methods = list(attrs.get("methods") or [])
    if (attrs.get("days") == [e["day"] for e in entries] and s.stack_method in methods
            and attrs.get("fingerprint") == config.fingerprint()):
        log.info("moving stacks %s are current, reusing them", rel)
        return url
    if not build:
        raise _missing("the moving-stack store", rel)
    return moving_stack_results(config, length=s.moving_days, step=s.step_days, name=name,
                                methods=sorted({*methods, s.stack_method}))


def _reference_store(config: Config, s: DvvConfig, entries: list[dict[str, Any]],
                     build: bool = True) -> str:
    ranges, store = parse_reference(s.reference)
    if store is not None:
        return store
    chosen = [e for e in entries
              if any(a <= dt.date.fromisoformat(e["day"]) <= b for a, b in ranges)]
    if not chosen:
        raise FileNotFoundError(f"dvv.reference {s.reference}: no completed day with data in "
                                "the reference period")
    days = [e["day"] for e in chosen]
    tag = hashlib.sha256(json.dumps([days, s.stack_method]).encode()).hexdigest()[:8]
    rel = f"stacks/reference_{s.stack_method}_{tag}.zarr"
    loc = output_location(config.output.output, config.data.endpoint_url)
    url = f"{config.output.output.rstrip('/')}/{rel}"
    attrs = product_attrs(url, config.data.endpoint_url) or {}
    if attrs.get("days") == days and attrs.get("fingerprint") == config.fingerprint():
        return url
    if not build:
        raise _missing("the reference stack", rel)
    used = [dt.date.fromisoformat(d) for d in days]
    attrs = stack_attrs(config, used, product="reference", name=Path(rel).stem,
                        reference=list(s.reference))
    scratch = Path(config.scratch_dir())
    if not scratch.is_dir():
        raise FileNotFoundError(f"output.scratch: directory {scratch} does not exist")
    stack_to_store(loc, chosen, [s.stack_method], config, attrs, rel, scratch)
    log.info("wrote the reference %s from %d days", url, len(days))
    return url


def _band(config: Config, s: DvvConfig) -> tuple[float, float]:
    p = config.processing
    band = (s.freqmin or p.freqmin, s.freqmax or p.freqmax)
    if not 0 < band[0] < band[1] < p.sampling_rate / 2:
        raise ValueError(f"dv/v band {band[0]}-{band[1]} Hz: need 0 < fmin < fmax < Nyquist "
                         f"({p.sampling_rate / 2:g} Hz)")
    return band


def measure_stores(moving: Any, reference: Any, s: DvvConfig, band: tuple[float, float],
                   *, time: np.ndarray | None = None, threads: int | None = None
                   ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """dv/v of every pair of the moving-stack dataset against the reference dataset, in
    batches of :data:`PAIR_BATCH` pairs; ``time`` (bool mask) limits the windows. Returns
    ({variable: (pair, time) or (pair, 2) array}, indices of the measured pairs)."""
    names = np.asarray(moving["pair"].values).astype(str)
    ref_names = set(np.asarray(reference["pair"].values).astype(str))
    rows = np.flatnonzero([n in ref_names for n in names])
    if len(rows) < len(names):
        log.warning("%d of %d pairs have no reference stack and are not measured",
                    len(names) - len(rows), len(names))
    if not len(rows):
        raise ValueError("no pair has both moving stacks and a reference stack")
    sel = moving if time is None else moving.isel(time=np.flatnonzero(time))
    lags = np.asarray(moving["lag"].values, np.float64)
    batches: list[dict[str, np.ndarray]] = []
    for b in range(0, len(rows), PAIR_BATCH):
        idx = rows[b:b + PAIR_BATCH]
        batch = sel.isel(pair=idx)
        cur = np.asarray(batch[s.stack_method].transpose("pair", "time", "lag").values)
        ref = np.asarray(reference[s.stack_method].sel(pair=names[idx]).values)
        valid = np.asarray(batch["n_days"].transpose("pair", "time").values) >= s.min_days
        out = measure(ref, cur, lags, np.asarray(batch["distance_km"].values), s, band,
                      valid=valid, threads=threads)
        out["n_days"] = np.asarray(batch["n_days"].transpose("pair", "time").values)
        batches.append(out)
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}, rows


def _dataset(moving: Any, rows: np.ndarray, time: np.ndarray | None,
             results: dict[str, np.ndarray], attrs: dict[str, Any]) -> Any:
    import xarray as xr

    sub = moving.isel(pair=rows)
    if time is not None:
        sub = sub.isel(time=np.flatnonzero(time))
    units = {"dvv": "1", "dvv_err": "1", "cc": "1", "clock_shift": "s", "n_days": "days",
             "n_mwcs_windows": "windows"}
    data: dict[str, Any] = {}
    for k, v in results.items():
        if k == "lag_window":
            continue
        data[k] = (("pair", "time"), v.astype(np.int64 if v.dtype.kind in "iu" else np.float64),
                   {"units": units.get(k, "")})
    components = np.asarray(sub["component"].values).astype(str)
    groups = sorted(set(components))
    if len(groups) > 1:
        groups.append("all")
    net = [network_mean(results["dvv"][mask], results["dvv_err"][mask])
           for mask in ((components == g) if g != "all" else np.ones(len(components), bool)
                        for g in groups)]
    data["network_dvv"] = (("group", "time"), np.stack([n.dvv for n in net]), {"units": "1"})
    data["network_dvv_err"] = (("group", "time"), np.stack([n.err for n in net]),
                               {"units": "1"})
    data["network_n_pairs"] = (("group", "time"), np.stack([n.n_pairs for n in net]), {})
    coords: dict[str, Any] = {"pair": np.asarray(sub["pair"].values).astype(str).astype(object),
                              "time": sub["time"].values, "group": np.array(groups, object)}
    for c in ("window_start", "window_end"):
        if c in sub.coords:
            coords[c] = ("time", sub[c].values)
    for c in sub.coords:
        if c not in coords and sub[c].dims == ("pair",):
            values = np.asarray(sub[c].values)
            coords[c] = ("pair", values.astype(object) if values.dtype.kind in "UO" else values)
    window = results["lag_window"]
    coords["lag_window_start"] = ("pair", window[:, 0], {"units": "s"})
    coords["lag_window_end"] = ("pair", window[:, 1], {"units": "s"})
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds["dvv"].attrs["long_name"] = "relative velocity change dv/v"
    return ds


def _write(ds: Any, url: str, config: Config) -> None:
    """Write ``ds`` to ``url``, strings as Zarr's variable-length strings (joined parts come
    back with fixed-width numpy strings)."""
    from c4.store import write_dataset

    fixed = [n for n in ds.variables if ds[n].dtype.kind == "U"]
    ds = ds.assign_coords({n: ds[n].astype(object) for n in fixed if n in ds.coords})
    parent, name = _split(url)
    scratch = Path(config.scratch_dir())
    write_dataset(ds, output_location(parent, config.data.endpoint_url), name, scratch)


def _product_attrs(config: Config, s: DvvConfig, band: tuple[float, float], moving_url: str,
                   reference_url: str, moving: Any, reference: Any) -> dict[str, Any]:
    return {
        "c4_version": c4.__version__, "product": "dvv", "config": config.to_toml(),
        "fingerprint": config.fingerprint(), "method": s.method, "stack_method": s.stack_method,
        "freqmin": band[0], "freqmax": band[1], "branch": s.branch,
        "moving_days": s.moving_days, "step_days": s.step_days, "stacks": moving_url,
        "reference": reference_url, "reference_spec": list(s.reference),
        "reference_days": list(reference.attrs.get("days", [])),
        "days": list(moving.attrs.get("days", [])), "dvv_settings": s.model_dump_json(),
        "sign_convention": DVV_SIGN_CONVENTION,
    }


def prepare(config: Config, settings: DvvConfig | None = None) -> tuple[str, str]:
    """Make (or find current) the moving stacks and the reference of ``settings``; returns
    their URLs. Shard runs (``run_dvv(index=...)``) only read them."""
    s = settings or config.dvv
    _band(config, s)
    entries = data_entries(output_location(config.output.output, config.data.endpoint_url))
    if not entries:
        raise FileNotFoundError(f"{config.output.output}: no completed day with data")
    return _moving_store(config, s, entries), _reference_store(config, s, entries)


def run_dvv(config: Config, *, output: str | None = None, settings: DvvConfig | None = None,
            stacks: str | None = None, index: int | None = None) -> str:
    """``c4 dvv``: measure dv/v on the store ``config.output.output``; returns the URL written
    (the product, or with ``index`` the shard's part (:mod:`c4.dvv.parts`): then the moving
    stacks and reference must exist, see :func:`prepare`)."""
    s = settings or config.dvv
    band = _band(config, s)
    loc = output_location(config.output.output, config.data.endpoint_url)
    entries = data_entries(loc)
    if not entries and stacks is None:
        raise FileNotFoundError(f"{config.output.output}: no completed day with data")
    scratch = Path(config.scratch_dir())
    if not scratch.is_dir():
        raise FileNotFoundError(f"output.scratch: directory {scratch} does not exist")
    build = index is None
    moving_url = stacks or _moving_store(config, s, entries, build)
    reference_url = _reference_store(config, s, entries, build)
    with tempfile.TemporaryDirectory(prefix="c4-dvv-", dir=scratch) as cache:
        return _measure_and_write(config, s, band, moving_url, reference_url, output, index,
                                  Path(cache))


def _measure_and_write(config: Config, s: DvvConfig, band: tuple[float, float],
                       moving_url: str, reference_url: str, output: str | None,
                       index: int | None, cache: Path) -> str:
    """The measurement and write of :func:`run_dvv`; S3 stores are read lazily from copies
    in ``cache`` (a folder in scratch), not into memory."""
    moving = open_results(moving_url, endpoint_url=config.data.endpoint_url,
                          cache_dir=cache / "moving")
    if s.stack_method not in moving.data_vars or "time" not in moving.dims:
        raise ValueError(f"{moving_url}: not a moving-stack store with {s.stack_method!r} "
                         "stacks (make one with c4 stack --moving)")
    reference = open_results(reference_url, endpoint_url=config.data.endpoint_url,
                             cache_dir=cache / "reference")
    if s.stack_method not in reference.data_vars:
        raise ValueError(f"{reference_url}: no {s.stack_method!r} stack in the reference")
    url = output or f"{config.output.output.rstrip('/')}/dvv/{s.method}.zarr"
    attrs = _product_attrs(config, s, band, moving_url, reference_url, moving, reference)
    attrs["settings_tag"] = parts.settings_tag(attrs)
    time = label = None
    if index is not None:
        time, label, expected = parts.shard_selection(config, index, moving["time"].values)
        part = {"shard": index, "tag": attrs["settings_tag"], "expected": expected}
        parts.write_part_entry(url, config.data.endpoint_url, label,
                               {**part, "complete": False})
        if not time.any():
            log.info("shard %s has no moving window centre; nothing to measure", label)
    results, rows = measure_stores(moving, reference, s, band, time=time,
                                   threads=config.processing.threads or None)
    ds = _dataset(moving, rows, time, results, attrs)
    written = url if label is None else f"{parts.parts_url(url)}/{label}.zarr"
    _write(ds, written, config)
    if label is not None:
        parts.write_part_entry(url, config.data.endpoint_url, label,
                               {**part, "n_time": ds.sizes["time"], "complete": True})
    log.info("wrote %s: %d pairs x %d windows, %s, %.3g-%.3g Hz", written, ds.sizes["pair"],
             ds.sizes["time"], s.method, *band)
    return written


def open_dvv(url: str, *, endpoint_url: str = "") -> Any:
    """The dv/v product at ``url`` as an ``xarray.Dataset``: the store itself, or (when only
    shard parts exist) the complete parts joined along ``time``
    (:func:`c4.dvv.parts.open_parts`; attribute ``missing_shards`` while shards are
    missing)."""
    if product_attrs(url, endpoint_url) is not None:
        return open_results(url, endpoint_url=endpoint_url)
    return parts.open_parts(url, endpoint_url)


def merge_parts(config: Config, url: str) -> str:
    """Join the shard parts of ``url`` into the store ``url`` (all shards holding window
    centres must have a complete part of one setting); returns it."""
    _write(parts.open_parts(url, config.data.endpoint_url, complete=True), url, config)
    return url
