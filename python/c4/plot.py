"""Figures of correlation results: record sections, pair interferograms and station maps.

Every function takes the ``xarray.Dataset`` returned by :func:`c4.open_results` (see DESIGN.md,
"Results"): one variable per stack method with dims ``(pair, lag)`` (plus a time dim for daily or
sub-stack products), coordinates ``lag`` (s), ``pair`` (``NET.STA.LOC.CHA_NET.STA.LOC.CHA``),
``source``, ``receiver``, ``component``, ``distance_km``, ``azimuth``, ``backazimuth``. A positive
lag means energy travelling from the source to the receiver.

Figures are drawn with matplotlib's object API on the headless ``Agg`` canvas (no display, no
global ``pyplot`` state) and returned as :class:`matplotlib.figure.Figure`; :func:`save_figure`
writes PNG, PDF or SVG. The ``c4 plot`` command group at the end of this module wraps them.

Station positions for :func:`station_map` come from, in order of preference: per-pair
coordinates ``source_latitude``, ``source_longitude``, ``receiver_latitude``,
``receiver_longitude`` (degrees); a ``station`` dimension with ``latitude`` and ``longitude``
coordinates; otherwise they are reconstructed on a local flat map (km east/north of the first
station) from each pair's ``distance_km`` and ``azimuth`` by least squares.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_FORMATS",
    "app",
    "bandpass",
    "daily_variable",
    "pair_figure",
    "record_section",
    "save_figure",
    "select_pair",
    "station_map",
    "station_positions",
]

#: File formats :func:`save_figure` writes, chosen by the file extension.
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
_PAIR_DIMS = {"pair", "lag"}


# --------------------------------------------------------------------------- helpers
def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure on the Agg canvas (headless; no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` as PNG, PDF or SVG (from the extension); returns the path."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(
            f"output {str(path)!r}: extension must be one of "
            f"{', '.join('.' + f for f in FIGURE_FORMATS)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=dpi)
    return path


def _sampling_rate(ds: xr.Dataset) -> float:
    lag = np.asarray(ds["lag"].values, dtype=np.float64)
    if lag.size < 2:
        raise ValueError("dataset needs at least two lags")
    return float(1.0 / np.median(np.diff(lag)))


def bandpass(traces: np.ndarray, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Zero-phase Butterworth band-pass (order 4, forward and backward) along the last axis.

    ``fs`` is the sampling rate in Hz and ``band`` = (fmin, fmax) in Hz with
    ``0 < fmin < fmax < fs / 2``. Zero phase keeps peaks at their lags.
    """
    from scipy.signal import butter, sosfiltfilt

    fmin, fmax = (float(b) for b in band)
    if not 0 < fmin < fmax < fs / 2:
        raise ValueError(
            f"band ({fmin}, {fmax}) Hz: need 0 < fmin < fmax < Nyquist ({fs / 2:g} Hz)"
        )
    sos = butter(4, [fmin, fmax], btype="bandpass", fs=fs, output="sos")
    padlen = min(traces.shape[-1] - 1, 3 * (2 * len(sos) + 1))
    return sosfiltfilt(sos, traces, axis=-1, padlen=padlen)


def _stack_variables(ds: xr.Dataset) -> list[str]:
    """Names of the final stacks: data variables with dims exactly (pair, lag)."""
    return [str(n) for n, v in ds.data_vars.items() if set(v.dims) == _PAIR_DIMS]


def daily_variable(ds: xr.Dataset, name: str | None = None) -> tuple[str, str]:
    """The variable holding daily or sub-stack correlations and its time dim: ``(name, dim)``.

    ``name`` picks one explicitly; otherwise the first variable with dims ``pair``, ``lag`` and one
    more (preferring names that contain ``daily`` or ``sub``).
    """
    candidates = []
    for n, v in ds.data_vars.items():
        extra = [d for d in v.dims if d not in _PAIR_DIMS]
        if _PAIR_DIMS <= set(v.dims) and len(extra) == 1:
            candidates.append((str(n), str(extra[0])))
    if name is not None:
        for n, d in candidates:
            if n == name:
                return n, d
        raise ValueError(
            f"variable {name!r} is not a (pair, time, lag) variable; available: "
            f"{', '.join(n for n, _ in candidates) or 'none'}"
        )
    if not candidates:
        raise ValueError(
            "dataset holds no daily or sub-stack correlations (a variable with dims pair, lag and "
            "a time dim); open a daily/shard product"
        )
    candidates.sort(key=lambda nd: not any(k in nd[0] for k in ("daily", "sub")))
    return candidates[0]


def _final_stacks(ds: xr.Dataset, label: str, exclude: str = "") -> dict[str, np.ndarray]:
    """Final stacks of pair ``label``: (pair, lag) variables, or (time, pair, lag) ones averaged."""
    out = {}
    for n, v in ds.data_vars.items():
        if n == exclude or "pair" not in v.dims or "lag" not in v.dims:
            continue
        if label not in set(np.asarray(ds["pair"].values).astype(str)):
            continue
        extra = [d for d in v.dims if d not in _PAIR_DIMS]
        if not extra:
            out[str(n)] = np.asarray(v.sel(pair=label).values, dtype=np.float64)
        elif len(extra) == 1 and str(n) not in ("correlation",):
            trace = v.sel(pair=label).mean(str(extra[0]), skipna=True).values
            if np.all(np.isfinite(trace)):
                out[f"{n} (mean over {extra[0]})"] = np.asarray(trace, dtype=np.float64)
    return out


def _over_time(ds: xr.Dataset, method: str) -> tuple[xr.DataArray, int]:
    """The (pair, lag) stack ``method`` of ``ds`` and the time steps combined into it (0: none).

    A product with one more dim (an output store of several shards: ``time``) is combined
    over it, each step weighted by its ``n_days`` (equal weights without them); steps where a
    pair has no data (NaN) are skipped for that pair."""
    var = ds[method]
    extra = [d for d in var.dims if d not in _PAIR_DIMS]
    if not _PAIR_DIMS <= set(var.dims) or len(extra) > 1:
        raise ValueError(f"variable {method!r} has dims {var.dims}; need (pair, lag)")
    if not extra:
        return var, 0
    dim = str(extra[0])
    weights = ds["n_days"] if "n_days" in ds and set(ds["n_days"].dims) == {dim, "pair"} else (
        var.notnull().any("lag").astype(np.float64))
    weights = weights.fillna(0.0).where(var.notnull().all("lag"), 0.0)
    total = weights.sum(dim)
    combined = (var.fillna(0.0) * weights).sum(dim) / total.where(total > 0)
    return combined, int(ds.sizes[dim])


def _components(ds: xr.Dataset) -> np.ndarray:
    if "component" in ds.coords:
        return np.asarray(ds["component"].values).astype(str)
    out = []
    for p in np.asarray(ds["pair"].values).astype(str):
        src, _, rcv = p.partition("_")
        out.append(src[-1:] + rcv[-1:])
    return np.array(out)


def select_pair(ds: xr.Dataset, pair: str, component: str | None = None) -> str:
    """The full pair label meant by ``pair``.

    ``pair`` is a full label (``CI.A..BHZ_CI.B..BHZ``) or a prefix of each side
    (``CI.A_CI.B``), narrowed by ``component`` (e.g. ``ZZ``) when several match.
    """
    labels = np.asarray(ds["pair"].values).astype(str)
    if pair in set(labels):
        return pair
    src, sep, rcv = pair.partition("_")
    if not sep:
        raise ValueError(f"pair {pair!r}: expected 'NET.STA[.LOC.CHA]_NET.STA[.LOC.CHA]'")
    comps = _components(ds)
    hits = [
        lab for lab, comp in zip(labels, comps, strict=True)
        if lab.split("_")[0].startswith(src) and lab.split("_")[1].startswith(rcv)
        and (component is None or comp == component)
    ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise ValueError(f"pair {pair!r} (component {component}) is not in the results")
    shown = ", ".join(hits[:10]) + (" ..." if len(hits) > 10 else "")
    raise ValueError(f"pair {pair!r} matches {len(hits)} pairs ({shown}); give --component "
                     "or the full label")


def _time_labels(values: np.ndarray) -> list[str]:
    if np.issubdtype(values.dtype, np.datetime64):
        days = values.astype("datetime64[s]")
        if np.all(days == days.astype("datetime64[D]")):
            return [str(v) for v in days.astype("datetime64[D]")]
        return [str(v).replace("T", " ") for v in days.astype("datetime64[m]")]
    return [str(v) for v in values]


# --------------------------------------------------------------------------- record section
def record_section(
    ds: xr.Dataset,
    *,
    method: str = "linear",
    component: str = "ZZ",
    band: tuple[float, float] | None = None,
    distance: tuple[float, float] | None = None,
    velocities: Sequence[float] = (),
    gain: float = 1.0,
    figsize: tuple[float, float] = (8.0, 6.0),
) -> Figure:
    """Record section: each pair's stacked correlation drawn at its inter-station distance.

    Parameters
    ----------
    method:
        Stack variable to draw (``linear``, ``pws``, ``robust``, ``nroot``, ...).
    component:
        Two-letter component (``ZZ``, ``RR``, ``TT``, ...); the ``component`` coordinate.
    band:
        Optional (fmin, fmax) in Hz, zero-phase band-pass before drawing.
    distance:
        Optional (min, max) inter-station distance in km; auto-correlations (0 km) are skipped.
    velocities:
        Reference move-out lines ``lag = ±distance / v`` for each velocity in km/s.
    gain:
        Trace amplitude in units of the mean distance spacing (each trace is normalised to a
        peak absolute amplitude of 1 first).

    The x axis is lag in s (positive = source→receiver), the y axis distance in km. Each trace is
    a ``Line2D`` whose ``gid`` is its pair label and whose y data are
    ``distance_km + amplitude * scale``; the scale is stored on the axes as ``c4_trace_scale``.
    """
    if method not in ds.data_vars:
        raise ValueError(
            f"method {method!r} not in results; stacks present: "
            f"{', '.join(_stack_variables(ds)) or 'none'}"
        )
    var, steps = _over_time(ds, method)
    comps = _components(ds)
    if component not in set(comps):
        raise ValueError(
            f"component {component!r} not in results; present: {', '.join(sorted(set(comps)))}"
        )
    dist = np.asarray(ds["distance_km"].values, dtype=np.float64)
    keep = (comps == component) & (dist > 0)
    if distance is not None:
        dmin, dmax = distance
        if dmin > dmax:
            raise ValueError(f"distance range ({dmin}, {dmax}) km: min exceeds max")
        keep &= (dist >= dmin) & (dist <= dmax)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise ValueError(f"no {component} pairs in the distance range {distance} km")
    for v in velocities:
        if not v > 0:
            raise ValueError(f"velocity {v} km/s: must be positive")

    lag = np.asarray(ds["lag"].values, dtype=np.float64)
    traces = np.asarray(var.isel(pair=idx).transpose("pair", "lag").values, dtype=np.float64)
    finite = np.isfinite(traces).all(axis=1)
    idx, traces = idx[finite], traces[finite]
    if idx.size == 0:
        raise ValueError(f"no {component} pair has data in the distance range {distance} km")
    if band is not None:
        traces = bandpass(traces, _sampling_rate(ds), band)
    peak = np.max(np.abs(traces), axis=1, keepdims=True)
    traces = traces / np.where(peak > 0, peak, 1.0)
    d = dist[idx]
    labels = np.asarray(ds["pair"].values).astype(str)[idx]
    order = np.argsort(d, kind="stable")
    span = float(d.max() - d.min())
    spacing = span / max(len(d) - 1, 1) if span > 0 else max(float(d.max()), 1.0) * 0.1
    scale = gain * spacing

    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    for i in order:
        (line,) = ax.plot(lag, d[i] + scale * traces[i], color="black", lw=0.6)
        line.set_gid(labels[i])
    ax.c4_trace_scale = scale  # type: ignore[attr-defined]
    ymin, ymax = float(d.min()) - 1.5 * scale, float(d.max()) + 1.5 * scale
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"]
    for k, v in enumerate(velocities):
        dd = np.linspace(0.0, ymax, 50)
        c = colors[k % len(colors)]
        ax.plot(dd / v, dd, ls="--", lw=1.0, color=c, label=f"{v:g} km/s", gid=f"moveout_{v:g}")
        ax.plot(-dd / v, dd, ls="--", lw=1.0, color=c, gid=f"moveout_{v:g}")
    if velocities:
        ax.legend(loc="upper right", fontsize="small", title="move-out")
    ax.set_xlim(lag[0], lag[-1])
    ax.set_ylim(ymin, ymax)
    ax.set_xlabel("lag (s), positive = source → receiver")
    ax.set_ylabel("inter-station distance (km)")
    title = f"{component} {method} stack, {len(idx)} pairs"
    if steps:
        title += f", {steps} time steps combined"
    if band is not None:
        title += f", {band[0]:g}–{band[1]:g} Hz"
    ax.set_title(title)
    ax.axvline(0.0, color="0.7", lw=0.5, zorder=0)
    return fig


# --------------------------------------------------------------------------- pair figure
def pair_figure(
    ds: xr.Dataset,
    pair: str,
    *,
    stacks: xr.Dataset | None = None,
    component: str | None = None,
    daily: str | None = None,
    band: tuple[float, float] | None = None,
    figsize: tuple[float, float] = (8.0, 7.0),
) -> Figure:
    """Interferogram of one pair: daily/sub-stack correlations as an image, final stacks below.

    ``ds`` holds the daily or sub-stack correlations (:func:`c4.store.open_daily`, variable
    ``correlation`` with dims (time, pair, lag), or any variable :func:`daily_variable` finds);
    ``stacks`` (default ``ds``) holds the final stacks (:func:`c4.open_results`). The top panel is
    an image with one row per day (or sub-stack) in time order, lag in s on the x axis; each row is
    normalised to a peak absolute amplitude of 1 (colour scale -1 … 1; days without data blank).
    The bottom panel shares the lag axis and shows every final stack (variables with dims
    ``(pair, lag)``; for a multi-shard dataset with a time dim, their mean over time), each
    normalised alike. ``pair`` is resolved with :func:`select_pair`.
    """
    label = select_pair(ds, pair, component)
    name, tdim = daily_variable(ds, daily)
    lag = np.asarray(ds["lag"].values, dtype=np.float64)
    rows = np.asarray(ds[name].sel(pair=label).transpose(tdim, "lag").values, dtype=np.float64)
    finals = _final_stacks(stacks if stacks is not None else ds, label, exclude=name)
    if band is not None:
        fs = _sampling_rate(ds)
        ok = np.all(np.isfinite(rows), axis=1)
        rows[ok] = bandpass(rows[ok], fs, band)
        finals = {m: bandpass(s, fs, band) for m, s in finals.items()}
    with np.errstate(invalid="ignore"):
        peak = np.max(np.abs(rows), axis=1, keepdims=True)
    finite = np.isfinite(peak[:, 0]) & (peak[:, 0] > 0)
    image = np.where(finite[:, None], rows / np.where(finite[:, None], peak, 1.0), np.nan)
    times = _time_labels(np.asarray(ds[tdim].values)) if tdim in ds.coords else [
        str(i) for i in range(rows.shape[0])]

    fig = _new_figure(figsize)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax_img = fig.add_subplot(grid[0])
    ax_stk = fig.add_subplot(grid[1], sharex=ax_img)
    dlag = lag[1] - lag[0]
    n = rows.shape[0]
    im = ax_img.imshow(
        image, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
        extent=(lag[0] - dlag / 2, lag[-1] + dlag / 2, n - 0.5, -0.5),
    )
    im.set_gid("daily")
    step = max(1, int(np.ceil(n / 15)))
    ax_img.set_yticks(np.arange(0, n, step), [times[i] for i in range(0, n, step)])
    ax_img.set_ylabel("day" if tdim in ("time", "day", "date") else tdim)
    ax_img.set_title(f"{label}  ({name}, {n} rows"
                     + (f", {band[0]:g}–{band[1]:g} Hz" if band else "") + ")")
    ax_img.tick_params(labelbottom=False)
    fig.colorbar(im, ax=ax_img, label="normalised amplitude", shrink=0.8)
    for m, s in finals.items():
        pk = np.max(np.abs(s))
        ax_stk.plot(lag, s / pk if pk > 0 else s, lw=0.8, label=m, gid=f"stack_{m}")
    if finals:
        ax_stk.legend(loc="upper right", fontsize="small")
    ax_stk.set_xlabel("lag (s), positive = source → receiver")
    ax_stk.set_ylabel("stack (normalised)")
    ax_stk.set_xlim(lag[0], lag[-1])
    if "distance_km" in ds.coords and finals:
        ax_stk.set_title(f"final stacks, {float(ds['distance_km'].sel(pair=label)):.1f} km",
                         fontsize="medium")
    return fig


# --------------------------------------------------------------------------- station map
def _station_of(channel: str) -> str:
    """``NET.STA`` of a ``NET.STA.LOC.CHA`` id."""
    return ".".join(channel.split(".")[:2])


def station_positions(ds: xr.Dataset) -> tuple[dict[str, tuple[float, float]], bool]:
    """Positions per ``NET.STA`` and whether they are geographic.

    Returns ``({station: (x, y)}, True)`` with x = longitude, y = latitude in degrees when the
    dataset has coordinates (see the module docstring), else ``(…, False)`` with x, y in km
    east/north of the first station, reconstructed from ``distance_km`` and ``azimuth``.
    """
    pairs = np.asarray(ds["pair"].values).astype(str)
    srcs = [_station_of(p.split("_")[0]) for p in pairs]
    rcvs = [_station_of(p.split("_")[1]) for p in pairs]
    names = ("source_latitude", "source_longitude", "receiver_latitude", "receiver_longitude")
    if all(n in ds.coords for n in names):
        slat, slon, rlat, rlon = (np.asarray(ds[n].values, dtype=np.float64) for n in names)
        pos: dict[str, tuple[float, float]] = {}
        for i in range(len(pairs)):
            pos.setdefault(srcs[i], (slon[i], slat[i]))
            pos.setdefault(rcvs[i], (rlon[i], rlat[i]))
        return pos, True
    if "station" in ds.dims and {"latitude", "longitude"} <= set(ds.coords):
        sta = [_station_of(str(s)) if str(s).count(".") >= 1 else str(s)
               for s in ds["station"].values]
        lat = np.asarray(ds["latitude"].values, dtype=np.float64)
        lon = np.asarray(ds["longitude"].values, dtype=np.float64)
        return {s: (lon[i], lat[i]) for i, s in enumerate(sta)}, True
    # Least squares on a flat map: x_r - x_s = d (sin az, cos az) for every pair.
    stations = sorted(set(srcs) | set(rcvs), key=(srcs + rcvs).index)
    col = {s: i for i, s in enumerate(stations)}
    dist = np.asarray(ds["distance_km"].values, dtype=np.float64)
    az = np.deg2rad(np.asarray(ds["azimuth"].values, dtype=np.float64))
    rows, rhs_x, rhs_y = [], [], []
    for i in range(len(pairs)):
        if srcs[i] == rcvs[i] or not (np.isfinite(dist[i]) and np.isfinite(az[i])):
            continue
        r = np.zeros(len(stations))
        r[col[rcvs[i]]], r[col[srcs[i]]] = 1.0, -1.0
        rows.append(r)
        rhs_x.append(dist[i] * np.sin(az[i]))
        rhs_y.append(dist[i] * np.cos(az[i]))
    anchor = np.zeros(len(stations))
    anchor[0] = 1.0
    a = np.vstack([*rows, anchor])
    xy = np.linalg.lstsq(a, np.column_stack([[*rhs_x, 0.0], [*rhs_y, 0.0]]), rcond=None)[0]
    return {s: (float(xy[i, 0]), float(xy[i, 1])) for i, s in enumerate(stations)}, False


def station_map(ds: xr.Dataset, *, figsize: tuple[float, float] = (7.0, 6.0)) -> Figure:
    """Map of the stations with every station pair drawn as a line coloured by its distance (km).

    Axes are longitude/latitude in degrees (aspect corrected for latitude) when the dataset has
    station coordinates, else km east/north of the first station (see
    :func:`station_positions`). The ``LineCollection`` of pairs has ``gid`` ``"pairs"``.
    """
    from matplotlib.collections import LineCollection

    pos, geographic = station_positions(ds)
    pairs = np.asarray(ds["pair"].values).astype(str)
    dist = np.asarray(ds["distance_km"].values, dtype=np.float64)
    seen: dict[tuple[str, str], float] = {}
    for p, d in zip(pairs, dist, strict=True):
        a, b = (_station_of(s) for s in p.split("_"))
        if a != b and (b, a) not in seen:
            seen.setdefault((a, b), float(d))
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    if seen:
        segments = [[pos[a], pos[b]] for a, b in seen]
        lc = LineCollection(segments, cmap="viridis", linewidths=1.2, alpha=0.8, zorder=1)
        lc.set_array(np.array(list(seen.values())))
        lc.set_gid("pairs")
        ax.add_collection(lc)
        fig.colorbar(lc, ax=ax, label="inter-station distance (km)", shrink=0.8)
    xy = np.array(list(pos.values()))
    ax.scatter(xy[:, 0], xy[:, 1], marker="^", s=70, color="tab:red", edgecolor="black",
               zorder=3, gid="stations")
    for name, (x, y) in pos.items():
        ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7,
                    zorder=4)
    if geographic:
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.set_aspect(1.0 / max(np.cos(np.deg2rad(float(np.mean(xy[:, 1])))), 1e-3))
    else:
        ax.set_xlabel("east (km, relative)")
        ax.set_ylabel("north (km, relative)")
        ax.set_aspect("equal")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))
    pad = 0.08 * max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-3)
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    ax.set_title(f"{len(pos)} stations, {len(seen)} station pairs")
    return fig


# --------------------------------------------------------------------------- CLI
app = typer.Typer(
    help="Figures of correlation results (PNG, PDF or SVG).", no_args_is_help=True,
)


def _open(url: str) -> xr.Dataset:
    """Open results with :func:`c4.open_results` (c4.store)."""
    from c4.store import open_results

    return open_results(url)


def _open_pair_data(url: str) -> tuple[xr.Dataset, xr.Dataset | None]:
    """(daily correlations, final stacks) of an output store; a single Zarr store serves both."""
    if url.rstrip("/").endswith(".zarr"):
        return _open(url), None
    from c4.store import open_daily

    days = open_daily(url)
    try:
        stacks = _open(url)
    except FileNotFoundError:  # no finished shard yet: dailies only
        stacks = None
    return days, stacks


def _run(make: Any, output: Path, dpi: int = 100) -> None:
    """Build a figure and save it; user mistakes become a message and exit code 2."""
    from rich.console import Console

    try:
        fig = make()
        path = save_figure(fig, output, dpi=dpi)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    Console(stderr=True).print(f"wrote {path}", highlight=False)


_OUT_HELP = "Output file: .png, .pdf or .svg."
_BAND_HELP = "Band-pass FMIN FMAX in Hz (zero phase)."
Results = Annotated[str, typer.Argument(help="Results store (local path or s3:// URL).")]
Band = Annotated[tuple[float, float] | None, typer.Option("--band", help=_BAND_HELP)]
Dpi = Annotated[int, typer.Option("--dpi", min=20, max=600,
                                  help="Pixels per inch for PNG (figure size is fixed in inches).")]


@app.command("moveout")
def moveout_command(
    results: Results,
    method: Annotated[str, typer.Option("--method", "-m", help="Stack method variable.")] = (
        "linear"),
    component: Annotated[str, typer.Option("--component", "-c",
                                           help="Component, e.g. ZZ, RR.")] = "ZZ",
    band: Band = None,
    distance: Annotated[tuple[float, float] | None, typer.Option(
        "--distance", help="Distance range MIN MAX in km.")] = None,
    velocity: Annotated[list[float] | None, typer.Option(
        "--velocity", help="Reference move-out velocity in km/s (repeatable).")] = None,
    gain: Annotated[float, typer.Option("--gain",
                                        help="Trace amplitude in distance spacings.")] = 1.0,
    output: Annotated[Path, typer.Option("--output", "-o", help=_OUT_HELP)] = Path("moveout.png"),
    dpi: Dpi = 100,
) -> None:
    """Record section: stacked correlations placed at their inter-station distance."""
    _run(lambda: record_section(_open(results), method=method, component=component, band=band,
                                distance=distance, velocities=velocity or (), gain=gain),
         output, dpi)


@app.command("pair")
def pair_command(
    results: Annotated[str, typer.Argument(
        help="Results store with daily or sub-stack products (local path or s3:// URL).")],
    pair: Annotated[str, typer.Argument(
        help="NET.STA.LOC.CHA_NET.STA.LOC.CHA, or NET.STA_NET.STA with --component.")],
    component: Annotated[str | None, typer.Option(
        "--component", "-c", help="Component when PAIR names stations only.")] = None,
    daily: Annotated[str | None, typer.Option(
        "--daily", help="Variable with the daily traces (default: found).")] = None,
    band: Band = None,
    output: Annotated[Path, typer.Option("--output", "-o", help=_OUT_HELP)] = Path("pair.png"),
    dpi: Dpi = 100,
) -> None:
    """Daily (or sub-stack) correlations of one pair as an image, final stacks below."""

    def make() -> Figure:
        days, stacks = _open_pair_data(results)
        return pair_figure(days, pair, stacks=stacks, component=component, daily=daily,
                           band=band)

    _run(make, output, dpi)


@app.command("stations")
def stations_command(
    results: Results,
    output: Annotated[Path, typer.Option("--output", "-o", help=_OUT_HELP)] = Path(
        "stations.png"),
    dpi: Dpi = 100,
) -> None:
    """Station map with the station pairs coloured by distance."""
    _run(lambda: station_map(_open(results)), output, dpi)
