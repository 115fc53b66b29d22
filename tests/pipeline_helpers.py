"""Small synthetic archives and configs shared by the pipeline tests (tiny, so they run fast)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from c4.config import Config, parse_config
from c4.demo import compare_with_theory, write_synthetic_archive

VELOCITY = 3.0


def small_archive(root: Path, **kw: Any) -> dict[str, Any]:
    """4 stations, 2 days of 2 h at 10 Hz, SCEDC layout + StationXML (override with ``kw``)."""
    args: dict[str, Any] = {"n_stations": 4, "days": 2, "day_length_s": 7200.0, "fs": 10.0,
                            "velocity_km_s": VELOCITY, "aperture_km": 50.0, "seed": 3}
    args.update(kw)
    return write_synthetic_archive(root, **args)


def small_config(archive: dict[str, Any], output: str | Path, scratch: str | Path, *,
                 data: dict[str, Any] | None = None, **processing: Any) -> Config:
    """Config for a :func:`small_archive`."""
    proc: dict[str, Any] = {"sampling_rate": archive["fs"], "cc_len": 600.0, "step": 300.0,
                            "freqmin": 0.1, "freqmax": 1.0, "maxlag": 40.0, "taper_bins": 20,
                            "stack_methods": ["linear", "pws", "robust"], "workers": 1,
                            "max_std_ratio": 20.0}
    proc.update(processing)
    d: dict[str, Any] = {"source": archive["root"], "layout": "scedc",
                         "stations": archive["stations"], "channel": ["HH?"],
                         "start": archive["start"], "end": archive["end"],
                         "day_length_s": archive["day_length_s"], "anonymous": False}
    d.update(data or {})
    return parse_config({"data": d, "processing": proc,
                         "output": {"output": str(output), "scratch": str(scratch),
                                    "min_free_gb": 0.0}})


def write_config(config: Config, path: Path) -> Path:
    path.write_text(config.to_toml())
    return path


def run_c4(*args: str, env: dict[str, str] | None = None, timeout: float = 300
           ) -> subprocess.CompletedProcess[str]:
    """Run the ``c4`` CLI in a subprocess (inherits the environment, plus ``env``)."""
    full = dict(os.environ)
    full.setdefault("C4_NUM_THREADS", "2")
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", "from c4.cli import main; main()", *args],
                          capture_output=True, text=True, env=full, timeout=timeout, check=False)


def assert_physics(ds: Any, config: Config, method: str = "linear", tol_samples: float = 3
                   ) -> float:
    """Every cross-station pair peaks within ``tol_samples`` of the diffuse-field theory;
    returns the fitted velocity."""
    rows, v, worst = compare_with_theory(ds, config, VELOCITY, method=method)
    assert rows, "no cross-station pairs"
    assert worst <= tol_samples, rows
    return v


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def arrays_equal(a: Any, b: Any) -> bool:
    """Bit-for-bit equality of every data variable and coordinate of two datasets."""
    if set(a.data_vars) != set(b.data_vars):
        return False
    for name in list(a.data_vars) + list(a.coords):
        x, y = np.asarray(a[name].values), np.asarray(b[name].values)
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.dtype.kind == "f":
            if x.tobytes() != y.tobytes():
                return False
        elif not (x == y).all():
            return False
    return True


def product_files(product: Path) -> dict[str, bytes]:
    """The data files of the complete version of a local product folder (``.../x.zarr``, the
    version its c4-product.json names), by path inside the version; ``zarr.json`` files are
    left out (their attributes hold the config, whose output paths differ between runs)."""
    from c4.objstore import Location
    from c4.products import resolve_product

    rel = resolve_product(Location(str(product.parent)), product.name)
    if rel is None:
        return {}
    root = product.parent / rel
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "zarr.json"}
