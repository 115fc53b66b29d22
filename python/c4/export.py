"""``c4 export``: results as SAC files for classic tools.

One file per stack method and pair, ``<out>/<method>/<pair>.SAC`` (with a ``time`` dim, one
folder per step: ``<out>/<method>/<YYYY-MM-DD>/<pair>.SAC``). The trace starts at ``b = -maxlag``
with ``delta = 1/sampling_rate``; a positive time means energy from the source to the receiver.
SAC's "event" is the source (``evla``, ``evlo``, ``kevnm`` = source channel id), the "station"
the receiver (``stla``, ``stlo``, ``stel``, ``knetwk``, ``kstnm``, ``khole``, ``kcmpnm``);
``dist`` (km), ``az``, ``baz`` and ``gcarc`` (degrees) come from the results (``lcalda`` is
false so readers keep them); ``kuser0`` holds the stack method and ``user0`` the days stacked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["export_sac"]


def _trace(ds: Any, i: int, values: np.ndarray, method: str) -> Any:
    from obspy import Trace
    from obspy.core.util import AttribDict
    from obspy.geodetics import kilometers2degrees

    lags = ds["lag"].values
    delta = float(lags[1] - lags[0])
    src = str(ds["source"].values[i]).split(".")
    rcv = str(ds["receiver"].values[i]).split(".")
    coord = {c: float(ds[c].values[i]) for c in (
        "distance_km", "azimuth", "backazimuth", "source_latitude", "source_longitude",
        "receiver_latitude", "receiver_longitude", "receiver_elevation") if c in ds.coords}
    sac = AttribDict({
        "b": float(lags[0]), "delta": delta, "lcalda": 0, "iftype": 1,
        "dist": coord.get("distance_km", 0.0), "az": coord.get("azimuth", 0.0),
        "baz": coord.get("backazimuth", 0.0),
        "gcarc": float(kilometers2degrees(coord.get("distance_km", 0.0))),
        "kevnm": ".".join(src)[:16], "kuser0": method[:8],
    })
    if "source_latitude" in coord:
        sac.update({"evla": coord["source_latitude"], "evlo": coord["source_longitude"],
                    "stla": coord["receiver_latitude"], "stlo": coord["receiver_longitude"],
                    "stel": coord.get("receiver_elevation", 0.0)})
    if "n_days" in ds:
        n = ds["n_days"].values
        sac["user0"] = float(n[i]) if n.ndim == 1 else float("nan")
    tr = Trace(np.nan_to_num(values).astype(np.float32), header={
        "network": rcv[0], "station": rcv[1], "location": rcv[2], "channel": rcv[3],
        "delta": delta})
    tr.stats.sac = sac
    return tr


def export_sac(ds: Any, out: str | Path, methods: list[str] | None = None) -> list[Path]:
    """Write the (pair, lag) variables of ``ds`` (from :func:`c4.open_results`) as SAC files
    below ``out``; returns the paths written."""
    out = Path(out)
    methods = methods or [v for v in ("linear", "pws", "robust", "nroot") if v in ds]
    missing = [m for m in methods if m not in ds]
    if missing:
        have = [v for v in ds.data_vars if "lag" in ds[v].dims]
        raise ValueError(f"no stack {missing} in the results; allowed: {', '.join(have)}")
    written = []
    for m in methods:
        var = ds[m]
        steps: list[tuple[str, Any]] = [("", var)]
        if "time" in var.dims:
            steps = [(str(t)[:10], var.sel(time=t)) for t in var["time"].values]
        for sub, v in steps:
            folder = out / m / sub if sub else out / m
            folder.mkdir(parents=True, exist_ok=True)
            values = v.transpose("pair", "lag").values
            for i, pair in enumerate(ds["pair"].values):
                if not np.isfinite(values[i]).any():
                    continue
                path = folder / f"{pair}.SAC"
                _trace(ds, i, values[i], m).write(str(path), format="SAC")
                written.append(path)
    return written
