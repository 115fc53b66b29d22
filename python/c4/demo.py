"""``c4 demo``: a synthetic network with a known velocity, correlated and checked against theory.

:func:`write_synthetic_archive` writes a diffuse noise field (:mod:`c4.synthetic`) recorded at
a few stations as miniSEED day files in the SCEDC (or SDS) layout, with StationXML (or CSV)
metadata, exactly as the real archives look; only the days are short (``day_length_s``, the
first hours of each day) so the demo runs in seconds. :func:`run_demo` runs ``c4 correlate`` on
every shard and ``c4 stack`` over all days, then compares each pair's peak lags with the
theoretical correlation (the inverse transform of ``w² J0(2π f d / v)``) and fits a velocity.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c4.config import Config, parse_config
from c4.sources import ChannelId, ncedc_key, scedc_key, sds_key

__all__ = ["DemoResult", "demo_config", "run_demo", "station_coords", "write_synthetic_archive"]

REF_LAT, REF_LON = 34.0, -118.0
"""Centre of the synthetic network (degrees)."""


def station_coords(n: int, aperture_km: float, seed: int) -> np.ndarray:
    """``n`` station positions (x east, y north, km) spread over a disc of ``aperture_km``,
    at least ``aperture_km / 8`` apart, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    pts: list[np.ndarray] = []
    while len(pts) < n:
        p = rng.uniform(-aperture_km / 2, aperture_km / 2, 2)
        if np.hypot(*p) <= aperture_km / 2 and all(
                np.hypot(*(p - q)) >= aperture_km / 8 for q in pts):
            pts.append(p)
    return np.array(pts)


def _latlon(xy_km: np.ndarray) -> np.ndarray:
    """Local projection of x/y km to (lat, lon) around the reference point (a few 100 m
    accuracy is plenty; the geometry used later is recomputed from lat/lon)."""
    from obspy.geodetics import kilometers2degrees

    lat = REF_LAT + kilometers2degrees(xy_km[:, 1])
    lon = REF_LON + kilometers2degrees(xy_km[:, 0]) / math.cos(math.radians(REF_LAT))
    return np.stack([lat, lon], axis=1)


def _xy_from_latlon(latlon: np.ndarray) -> np.ndarray:
    """x/y in km on a plane tangent at the reference, via geodesic distance and azimuth, so that
    plane distances match the geodesic ones the pipeline computes."""
    from obspy.geodetics import gps2dist_azimuth

    out = []
    for lat, lon in latlon:
        d, az, _ = gps2dist_azimuth(REF_LAT, REF_LON, lat, lon)
        out.append((d / 1000 * math.sin(math.radians(az)), d / 1000 * math.cos(math.radians(az))))
    return np.array(out)


def write_synthetic_archive(
    root: str | Path, *, n_stations: int = 6, days: int = 3, start: dt.date = dt.date(2024, 1, 1),
    day_length_s: float = 7200.0, fs: float = 10.0, velocity_km_s: float = 3.0,
    aperture_km: float = 60.0, layout: str = "scedc", metadata: str = "stationxml",
    network: str = "SY", channel: str = "HHZ", band: tuple[float, float] | None = (0.05, 2.0),
    n_sources: int = 400, seed: int = 0, encoding: str = "FLOAT32",
    velocity_changes: Mapping[dt.date, float] | None = None,
    station_file: str = "{network}/{network}_{station}.xml",
) -> dict[str, Any]:
    """Write a synthetic archive below ``root``; returns its description (paths, station
    coordinates, ``dvv`` per day, ...). Day ``k`` holds an independent diffuse-field record of
    ``day_length_s`` seconds starting at midnight, at the velocity
    ``velocity_km_s · (1 + dv/v)`` with dv/v from ``velocity_changes``
    (:func:`c4.synthetic.imposed_dvv`; default: constant); ``layout`` is ``scedc``, ``ncedc``
    or ``sds``; ``metadata`` is ``stationxml`` (``FDSNstationXML/`` + ``station_file``) or
    ``csv`` (``stations.csv``); ``encoding`` is ``FLOAT32`` or ``STEIM2`` (int32 counts, as
    real archives hold them)."""
    from obspy import Trace, UTCDateTime
    from obspy.core.inventory import Channel, Inventory, Network, Site, Station

    from c4.synthetic import diffuse_field, imposed_dvv

    root = Path(root)
    all_days = [start + dt.timedelta(days=k) for k in range(days)]
    dvv = imposed_dvv(all_days, velocity_changes or {})
    xy = station_coords(n_stations, aperture_km, seed)
    latlon = _latlon(xy)
    xy = _xy_from_latlon(latlon)
    names = [f"S{i + 1:02d}" for i in range(n_stations)]
    ids = [ChannelId(network, s, "", channel) for s in names]
    for k in range(days):
        day = start + dt.timedelta(days=k)
        records = diffuse_field(xy, fs, day_length_s, velocity_km_s * (1 + dvv[k]),
                                n_sources=n_sources, band=band, seed=seed * 1000 + k + 1)
        t0 = UTCDateTime(day.year, day.month, day.day)
        for ch, rec in zip(ids, records, strict=True):
            key = {"scedc": scedc_key, "ncedc": ncedc_key, "sds": sds_key}[layout](ch, day)
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            samples = (np.round(rec * 1000).astype(np.int32) if encoding == "STEIM2"
                       else (rec * 1000).astype(np.float32))
            tr = Trace(data=samples, header={
                "network": ch.network, "station": ch.station, "location": ch.location,
                "channel": ch.channel, "sampling_rate": fs, "starttime": t0})
            tr.write(str(path), format="MSEED", encoding=encoding, reclen=4096)
    if metadata == "csv":
        meta = root / "stations.csv"
        rows = ["network,station,latitude,longitude,elevation"]
        rows += [f"{network},{s},{la:.6f},{lo:.6f},0.0" for s, (la, lo) in zip(names, latlon,
                                                                            strict=True)]
        meta.write_text("\n".join(rows) + "\n")
    else:
        meta = root / "FDSNstationXML"
        for s, (la, lo) in zip(names, latlon, strict=True):
            cha = Channel(channel, "", la, lo, 0.0, 0.0, sample_rate=fs)
            sta = Station(s, la, lo, 0.0, channels=[cha], site=Site(name=f"synthetic {s}"))
            inv = Inventory(networks=[Network(network, stations=[sta])], source="c4 demo")
            path = meta / station_file.format(network=network, station=s)
            path.parent.mkdir(parents=True, exist_ok=True)
            inv.write(str(path), format="STATIONXML")
    return {"root": str(root), "stations": str(meta), "names": names, "xy_km": xy,
            "latlon": latlon, "velocity_km_s": velocity_km_s, "fs": fs, "start": start,
            "end": start + dt.timedelta(days=days - 1), "day_length_s": day_length_s,
            "days": all_days, "dvv": dvv}


def demo_config(archive: dict[str, Any], output: str | Path, scratch: str | Path,
                **processing: Any) -> Config:
    """Config for correlating a :func:`write_synthetic_archive` archive."""
    fs = archive["fs"]
    proc = {"sampling_rate": fs, "cc_len": 600.0, "step": 300.0, "freqmin": 0.1,
            "freqmax": min(1.0, 0.4 * fs), "maxlag": 60.0, "taper_bins": 20,
            "stack_methods": ["linear", "pws", "robust"], "workers": 1, "max_std_ratio": 20.0}
    proc.update(processing)
    return parse_config({
        "data": {"source": archive["root"], "layout": "scedc", "stations": archive["stations"],
                 "channel": ["HH?"], "start": archive["start"], "end": archive["end"],
                 "day_length_s": archive["day_length_s"]},
        "processing": proc,
        "output": {"output": str(output), "scratch": str(scratch), "min_free_gb": 0.0},
    })


@dataclass
class DemoResult:
    rows: list[dict[str, float | str]]
    """Per pair: pair, distance_km, measured/theoretical acausal and causal peak lags (s)."""
    velocity_km_s: float
    """Velocity fitted over all pairs."""
    true_velocity_km_s: float
    max_lag_error_samples: float
    seconds: float


def compare_with_theory(ds: Any, config: Config, velocity_km_s: float,
                        method: str = "linear") -> tuple[list[dict[str, Any]], float, float]:
    """Peak lags of each cross-station pair of ``ds`` vs. the diffuse-field theory; returns
    (rows, fitted velocity in km/s, worst lag difference in samples)."""
    from c4 import kernels
    from c4.synthetic import band_weights, fit_velocity, peak_lags, theoretical_correlation

    p = config.processing
    fs = p.sampling_rate
    nfft = kernels.fast_len(round((p.cc_len + p.maxlag) * fs))
    weights, offset = band_weights(fs, nfft, p.freqmin, p.freqmax, p.taper_bins)
    lags = ds["lag"].values
    rows, dists, lag_meas = [], [], []
    worst = 0.0
    for i, pair in enumerate(ds["pair"].values):
        d = float(ds["distance_km"].values[i])
        if d == 0:
            continue
        trace = ds[method].values[i]
        theory = theoretical_correlation(d, velocity_km_s, fs, nfft, offset, weights, p.maxlag)
        m_neg, m_pos = peak_lags(trace, lags)
        t_neg, t_pos = peak_lags(theory, lags)
        worst = max(worst, abs(m_neg - t_neg) * fs, abs(m_pos - t_pos) * fs)
        rows.append({"pair": str(pair), "distance_km": d, "acausal_s": m_neg, "causal_s": m_pos,
                     "theory_acausal_s": t_neg, "theory_causal_s": t_pos})
        dists += [d, d]
        lag_meas += [-m_neg, m_pos]
    v, _ = fit_velocity(np.array(dists), np.array(lag_meas))
    return rows, v, worst


def run_demo(directory: str | Path, *, days: int = 3, n_stations: int = 6,
             day_length_s: float = 7200.0, velocity_km_s: float = 3.0,
             reporter: Any = None) -> DemoResult:
    """Write the synthetic archive in ``directory``, correlate every shard, stack all days,
    and compare with theory."""
    import time

    from c4.pipeline import run_shard
    from c4.shards import n_shards
    from c4.stacking import stack_results
    from c4.store import open_results

    t0 = time.perf_counter()
    directory = Path(directory)
    archive = write_synthetic_archive(directory / "archive", n_stations=n_stations, days=days,
                                      day_length_s=day_length_s, velocity_km_s=velocity_km_s)
    (directory / "scratch").mkdir(parents=True, exist_ok=True)
    config = demo_config(archive, directory / "results", directory / "scratch")
    (directory / "c4.toml").write_text(config.to_toml())
    for index in range(n_shards(config)):
        run_shard(config, index, reporter=reporter)
    url = stack_results(config, name="all")
    ds = open_results(url)
    rows, v, worst = compare_with_theory(ds, config, velocity_km_s)
    return DemoResult(rows, v, velocity_km_s, worst, time.perf_counter() - t0)
