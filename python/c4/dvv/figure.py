"""``c4 plot dvv``: dv/v time series with error bands, and the interferogram beside them.

Left: the moving-window stacks of one pair as an image (one row per window centre, lag in s
on the x axis, each row normalised to peak 1, with its colour bar) with the measured lag
window(s) shaded. Right:
dv/v in % against the window centre for every pair (thin lines), the chosen pair with its
±1σ band, and the network mean (error-weighted) with its ±1σ band.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from c4.plot import _new_figure, _time_labels, select_pair

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["dvv_figure"]


def _best_pair(ds: xr.Dataset) -> str:
    """The pair with the most finite dv/v values (ties: the smallest mean error)."""
    dvv = np.asarray(ds["dvv"].transpose("pair", "time").values)
    err = np.asarray(ds["dvv_err"].transpose("pair", "time").values)
    count = np.isfinite(dvv).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean_err = np.where(count > 0, np.nanmean(np.where(np.isfinite(dvv), err, np.nan),
                                                  axis=1), np.inf)
    order = np.lexsort((mean_err, -count))
    return str(np.asarray(ds["pair"].values).astype(str)[order[0]])


def dvv_figure(ds: xr.Dataset, stacks: xr.Dataset | None = None, *, pair: str | None = None,
               component: str | None = None, group: str | None = None,
               figsize: tuple[float, float] = (12.0, 5.5)) -> Figure:
    """The figure of a dv/v product ``ds`` (:func:`c4.dvv.product.open_dvv`).

    ``stacks``: the moving-stack dataset for the interferogram (default: none, then only the
    time series are drawn). ``pair``: the pair drawn with its error band and interferogram
    (full label or ``NET.STA_NET.STA`` with ``component``; default: the pair with the most
    measurements). ``group``: the network mean drawn (default: ``all`` if present, else the
    only component). Lines carry ``gid``s: each pair's label, ``network``; the error bands
    ``pair_err`` and ``network_err``; the image ``interferogram``, the lag windows
    ``lag_window``.
    """
    label = select_pair(ds, pair, component) if pair else _best_pair(ds)
    groups = [str(g) for g in ds["group"].values]
    group = group or ("all" if "all" in groups else groups[0])
    if group not in groups:
        raise ValueError(f"group {group!r} not in the product; present: {', '.join(groups)}")
    times = np.asarray(ds["time"].values).astype("datetime64[s]").astype("O")
    pct = 100.0
    fig = _new_figure(figsize)
    if stacks is not None:
        grid = fig.add_gridspec(1, 2, width_ratios=(1, 1.6))
        ax_img = fig.add_subplot(grid[0])
        ax_ts = fig.add_subplot(grid[1])
        _interferogram(ax_img, ds, stacks, label)
    else:
        ax_ts = fig.add_subplot()
    labels = np.asarray(ds["pair"].values).astype(str)
    dvv = np.asarray(ds["dvv"].transpose("pair", "time").values) * pct
    err = np.asarray(ds["dvv_err"].transpose("pair", "time").values) * pct
    for i, lab in enumerate(labels):
        ax_ts.plot(times, dvv[i], color="0.75", lw=0.7, gid=lab, zorder=1)
    k = int(np.flatnonzero(labels == label)[0])
    ax_ts.plot(times, dvv[k], color="tab:blue", lw=1.2, gid=f"{label}", label=label, zorder=3)
    band = ax_ts.fill_between(times, dvv[k] - err[k], dvv[k] + err[k], color="tab:blue",
                              alpha=0.25, lw=0, zorder=2)
    band.set_gid("pair_err")
    g = groups.index(group)
    net = np.asarray(ds["network_dvv"].values[g]) * pct
    net_err = np.asarray(ds["network_dvv_err"].values[g]) * pct
    ax_ts.plot(times, net, color="black", lw=1.8, gid="network",
               label=f"network mean ({group})", zorder=5)
    nband = ax_ts.fill_between(times, net - net_err, net + net_err, color="black", alpha=0.2,
                               lw=0, zorder=4)
    nband.set_gid("network_err")
    ax_ts.axhline(0.0, color="0.5", lw=0.5, zorder=0)
    ax_ts.set_xlabel("window centre (UTC)")
    ax_ts.set_ylabel("dv/v (%)")
    ax_ts.legend(loc="best", fontsize="small")
    a = ds.attrs
    ax_ts.set_title(f"dv/v by {a.get('method', '?')}, {a.get('freqmin', 0):g}–"
                    f"{a.get('freqmax', 0):g} Hz, {a.get('moving_days', '?')}-day windows, "
                    f"{len(labels)} pairs")
    for tick in ax_ts.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    return fig


def _interferogram(ax: Any, ds: xr.Dataset, stacks: xr.Dataset, label: str) -> None:
    method = str(ds.attrs.get("stack_method", "linear"))
    var = stacks[method].sel(pair=label).transpose("time", "lag")
    rows = np.asarray(var.values, np.float64)
    lag = np.asarray(stacks["lag"].values, np.float64)
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.abs(rows), axis=1, keepdims=True)
    ok = np.isfinite(peak[:, 0]) & (peak[:, 0] > 0)
    image = np.where(ok[:, None], rows / np.where(ok[:, None], peak, 1.0), np.nan)
    n = rows.shape[0]
    dlag = lag[1] - lag[0]
    im = ax.imshow(image, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                   interpolation="nearest",
                   extent=(lag[0] - dlag / 2, lag[-1] + dlag / 2, n - 0.5, -0.5))
    im.set_gid("interferogram")
    bar = ax.figure.colorbar(im, ax=ax, pad=0.02, fraction=0.05)
    bar.set_label("amplitude (each row / its peak)")
    times = _time_labels(np.asarray(stacks["time"].values))
    step = max(1, int(np.ceil(n / 12)))
    ax.set_yticks(np.arange(0, n, step), [times[i][:10] for i in range(0, n, step)])
    t1 = float(ds["lag_window_start"].sel(pair=label))
    t2 = float(ds["lag_window_end"].sel(pair=label))
    branch = str(ds.attrs.get("branch", "both"))
    spans = {"both": [(-t2, -t1), (t1, t2)], "causal": [(t1, t2)], "acausal": [(-t2, -t1)],
             "symmetric": [(-t2, -t1), (t1, t2)]}[branch]
    if np.isfinite(t1) and np.isfinite(t2):
        for lo, hi in spans:
            ax.axvspan(lo, hi, color="gold", alpha=0.25, gid="lag_window")
    ax.set_xlabel("lag (s), positive = source → receiver")
    ax.set_ylabel("window centre")
    ax.set_title(f"{label}\n{method} moving stacks ({n} windows)", fontsize="medium")
