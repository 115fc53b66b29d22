"""Rotation of the nine-component correlation tensor from E/N/Z to R/T/Z.

Convention (Lin, Moschetti & Ritzwoller 2008, GJI 173, 281-298, eq. 1)
-----------------------------------------------------------------------
For a pair with source station A and receiver station B (a positive lag means energy travelling
from A to B):

* ``azimuth`` θ: azimuth of the great circle from A towards B, measured **at A**, in degrees
  clockwise from north.
* ``backazimuth`` ψ: azimuth of the great circle from B towards A, measured **at B**, in degrees
  clockwise from north. On a flat Earth ψ = θ + 180°; on the sphere they differ, so both are used.
* **Radial** R at each station is the horizontal unit vector pointing along the great circle in the
  direction of travel from A to B: at A its azimuth is θ, at B it is ψ + 180°. So a wave travelling
  from A to B and moving the ground forward along its path gives positive R at both stations.
* **Transverse** T is R turned 90° clockwise seen from above (azimuth of R + 90°); **Z** is up.
  In (east, north) components: ``R_A = ( sin θ,  cos θ)``, ``T_A = ( cos θ, -sin θ)``,
  ``R_B = (-sin ψ, -cos ψ)``, ``T_B = (-cos ψ,  sin ψ)``. (R, T, Z) is a left-handed frame; this is
  the choice of Lin et al. (2008) and of ObsPy's ``rotate_ne_rt``, and it matters only for the
  signs of the mixed terms RT, TR, TZ, ZT.

Component labels have two letters: the first is the component at the source A, the second at the
receiver B, so ``EN`` is ``<E_A(t) N_B(t + τ)>``. The input order is
``EE, EN, EZ, NE, NN, NZ, ZE, ZN, ZZ``; the output order is ``RR, RT, RZ, TR, TT, TZ, ZR, ZT, ZZ``.
With ``G`` the 3×3 matrix whose rows are R, T, Z expressed in E, N, Z at a station, the 3×3
tensor per lag rotates as
``C_RTZ = G_A C_ENZ G_Bᵀ``; the inverse is ``C_ENZ = G_Aᵀ C_RTZ G_B``.

For example, with θ = 0° and ψ = 180° (B due north of A) R is north and T is east at both stations,
so ``RR = NN``, ``RT = NE``, ``TT = EE``; with θ = 90°, ψ = 270° (B due east) R is east and T is
south, so ``RR = EE``, ``RT = -EN``, ``TT = NN``.

Horizontal components that are not exactly east and north
----------------------------------------------------------
Channels coded 1 and 2 (SEED: two horizontals of any orientation), and E/N sensors that are
mis-oriented, record ``u_c = E sin α_c + N cos α_c`` with α_c the component's azimuth (degrees
clockwise from north). With ``H`` the 3×3 matrix whose rows are the first horizontal, second
horizontal and Z in (E, N, Z), the recorded tensor is ``C_12Z = H_A C_ENZ H_Bᵀ``, so
``C_RTZ = G_A H_A⁻¹ C_12Z H_B⁻ᵀ G_Bᵀ`` (``H`` need not be orthogonal). The azimuths come from
the channel metadata (StationXML ``Azimuth``; E and N default to 90° and 0°), plus an optional
per-station mis-orientation correction: a station whose sensor is turned δ degrees clockwise
from what its metadata says has component azimuths α_c + δ (NoisePy's ``correction_csv``
plays this role; Zha et al. 2013 measure δ from Rayleigh-wave polarisation). In the component
labels the first horizontal takes the E slot and the second the N slot.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from pathlib import Path

import numpy as np

__all__ = [
    "ENZ_COMPONENTS",
    "RTZ_COMPONENTS",
    "horizontal_matrices",
    "load_misorientation",
    "rotate_dataset",
    "rotate_results",
    "rotate_to_enz",
    "rotate_to_rtz",
    "station_rotation_matrices",
]

log = logging.getLogger(__name__)

#: Input component order: first letter at the source station, second at the receiver.
ENZ_COMPONENTS: tuple[str, ...] = ("EE", "EN", "EZ", "NE", "NN", "NZ", "ZE", "ZN", "ZZ")
#: Output component order, same layout.
RTZ_COMPONENTS: tuple[str, ...] = ("RR", "RT", "RZ", "TR", "TT", "TZ", "ZR", "ZT", "ZZ")


def station_rotation_matrices(
    azimuth_deg: np.ndarray | float, backazimuth_deg: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation matrices ``(G_A, G_B)`` of shape (pairs, 3, 3) for source A and receiver B.

    Row 0 is R, row 1 is T, row 2 is Z, each expressed in the (E, N, Z) basis at that station,
    following the convention in the module docstring. Angles are in degrees.
    """
    theta = np.deg2rad(np.atleast_1d(np.asarray(azimuth_deg, dtype=np.float64)))
    psi = np.deg2rad(np.atleast_1d(np.asarray(backazimuth_deg, dtype=np.float64)))
    if theta.shape != psi.shape or theta.ndim != 1:
        raise ValueError(
            f"azimuth_deg and backazimuth_deg must be 1-D of equal length; got shapes "
            f"{theta.shape} and {psi.shape}"
        )
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(psi))):
        raise ValueError("azimuth_deg and backazimuth_deg must be finite (auto-pairs have none)")
    n = len(theta)
    ga = np.zeros((n, 3, 3))
    gb = np.zeros((n, 3, 3))
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(psi), np.cos(psi)
    ga[:, 0, 0], ga[:, 0, 1] = st, ct  # R_A
    ga[:, 1, 0], ga[:, 1, 1] = ct, -st  # T_A
    gb[:, 0, 0], gb[:, 0, 1] = -sp, -cp  # R_B
    gb[:, 1, 0], gb[:, 1, 1] = -cp, sp  # T_B
    ga[:, 2, 2] = 1.0
    gb[:, 2, 2] = 1.0
    return ga, gb


def horizontal_matrices(azimuths_deg: np.ndarray) -> np.ndarray:
    """Matrices ``H`` (pairs, 3, 3) of stations whose horizontals have ``azimuths_deg``
    ((pairs, 2): first and second horizontal, degrees clockwise from north): rows are the two
    horizontals and Z in (E, N, Z). ``[90, 0]`` (east, north) gives the identity."""
    a = np.deg2rad(np.asarray(azimuths_deg, np.float64))
    if a.ndim != 2 or a.shape[1] != 2 or not np.isfinite(a).all():
        raise ValueError(f"azimuths_deg: expected finite (pairs, 2) degrees, got shape {a.shape}")
    h = np.zeros((len(a), 3, 3))
    h[:, 0, 0], h[:, 0, 1] = np.sin(a[:, 0]), np.cos(a[:, 0])
    h[:, 1, 0], h[:, 1, 1] = np.sin(a[:, 1]), np.cos(a[:, 1])
    h[:, 2, 2] = 1.0
    if (np.abs(np.linalg.det(h)) < 1e-6).any():
        raise ValueError("azimuths_deg: the two horizontals of a station are parallel")
    return h


def _apply(
    tensor: np.ndarray, azimuth_deg: np.ndarray | float, backazimuth_deg: np.ndarray | float,
    inverse: bool, source_azimuths: np.ndarray | None = None,
    receiver_azimuths: np.ndarray | None = None,
) -> np.ndarray:
    t = np.asarray(tensor)
    if t.ndim < 2 or t.shape[0] != 9:
        raise ValueError(
            f"tensor: expected shape (9, pairs, ...) with the nine components first; got {t.shape}"
        )
    ga, gb = station_rotation_matrices(azimuth_deg, backazimuth_deg)
    if len(ga) != t.shape[1]:
        raise ValueError(
            f"tensor has {t.shape[1]} pairs on axis 1 but {len(ga)} azimuths were given"
        )
    if source_azimuths is not None:
        ga = ga @ np.linalg.inv(horizontal_matrices(source_azimuths))
    if receiver_azimuths is not None:
        gb = gb @ np.linalg.inv(horizontal_matrices(receiver_azimuths))
    if inverse:
        ga, gb = ga.transpose(0, 2, 1), gb.transpose(0, 2, 1)
    c = t.reshape(3, 3, t.shape[1], -1)  # (a, b, pair, rest)
    # out[x, y] = sum_ab G_A[x, a] C[a, b] G_B[y, b]
    out = np.einsum("pxa,abpr,pyb->xypr", ga, c, gb, optimize=True)
    dtype = t.dtype if np.issubdtype(t.dtype, np.floating) else np.float64
    return out.reshape(t.shape).astype(dtype, copy=False)


def rotate_to_rtz(
    tensor: np.ndarray, azimuth_deg: np.ndarray | float, backazimuth_deg: np.ndarray | float,
    source_azimuths: np.ndarray | None = None, receiver_azimuths: np.ndarray | None = None,
) -> np.ndarray:
    """Rotate correlations from (E, N, Z) to (R, T, Z), vectorised over pairs and lags.

    Parameters
    ----------
    tensor:
        Shape (9, pairs, ...): the components in :data:`ENZ_COMPONENTS` order on axis 0, pairs on
        axis 1, then any trailing axes (lag in s, days, ...), which are rotated alike.
    azimuth_deg, backazimuth_deg:
        Shape (pairs,): source→receiver azimuth at the source and receiver→source back-azimuth at
        the receiver, degrees clockwise from north.
    source_azimuths, receiver_azimuths:
        Optional (pairs, 2): azimuths of the first and second horizontal component at each
        station (1/2 channels, mis-oriented sensors; default east and north), see the module
        docstring.

    Returns
    -------
    Array of the same shape (float dtype of the input, float64 for integers) with the components
    in :data:`RTZ_COMPONENTS` order.

    Examples
    --------
    >>> t = np.zeros((9, 1, 1)); t[ENZ_COMPONENTS.index("EN")] = 1.0
    >>> r = rotate_to_rtz(t, [90.0], [270.0])  # receiver due east: R = E, T = -N
    >>> {c: float(v) for c, v in zip(RTZ_COMPONENTS, r[:, 0, 0]) if abs(v) > 1e-12}
    {'RT': -1.0}
    """
    return _apply(tensor, azimuth_deg, backazimuth_deg, inverse=False,
                  source_azimuths=source_azimuths, receiver_azimuths=receiver_azimuths)


def rotate_to_enz(
    tensor: np.ndarray, azimuth_deg: np.ndarray | float, backazimuth_deg: np.ndarray | float
) -> np.ndarray:
    """Inverse of :func:`rotate_to_rtz`: components in :data:`RTZ_COMPONENTS` order back to ENZ."""
    return _apply(tensor, azimuth_deg, backazimuth_deg, inverse=True)


# --------------------------------------------------------------------------- xarray datasets
def _split_pair(pair: str) -> tuple[str, str]:
    src, sep, rcv = pair.partition("_")
    if not sep or src.count(".") != 3 or rcv.count(".") != 3:
        raise ValueError(f"pair {pair!r} is not 'NET.STA.LOC.CHA_NET.STA.LOC.CHA'")
    return src, rcv


_SLOT = {"E": "E", "1": "E", "N": "N", "2": "N", "Z": "Z"}
_DEFAULT_AZIMUTH = {"E": 90.0, "N": 0.0}


def load_misorientation(path: str | Path) -> dict[str, float]:
    """A mis-orientation table: CSV with the header ``network,station,correction_deg`` (degrees
    clockwise by which the sensor is turned from its metadata) → ``{"NET.STA": δ}``."""
    import csv

    out: dict[str, float] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            try:
                out[f"{row['network']}.{row['station']}"] = float(row["correction_deg"])
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}: expected columns network,station,correction_deg; "
                                 f"bad row {row}: {exc}") from None
    return out


def _station_azimuths(pairs: list[str], members: dict[str, int], orientation: np.ndarray | None,
                      side: int) -> np.ndarray | None:
    """Azimuths of the first and second horizontal of one station (``side`` 0: source, 1:
    receiver) of a group: the channel orientation of a pair of the group that has that
    component, else 90°/0° for E/N; None when a 1/2 channel has no azimuth."""
    az = []
    for slot in "EN":
        i = next(i for comp, i in members.items() if comp[side] == slot)
        letter = pairs[i].split("_")[side][-1]
        value = float(orientation[i]) if orientation is not None else np.nan
        if not np.isfinite(value):
            if letter not in _DEFAULT_AZIMUTH:
                return None
            value = _DEFAULT_AZIMUTH[letter]
        az.append(value)
    return np.array(az)


def rotate_dataset(ds, *, keep_other: bool = False,  # type: ignore[no-untyped-def]
                   misorientation: dict[str, float] | None = None):
    """Rotate every nine-component group of a results Dataset to R/T/Z.

    ``ds`` follows the results contract (``c4.open_results``): variables with a ``pair`` dim,
    ``pair`` labels ``NET.STA.LOC.CHA_NET.STA.LOC.CHA`` and per-pair coordinates ``azimuth`` and
    ``backazimuth`` (degrees). Pairs are grouped by (source ``NET.STA.LOC`` + band/instrument
    code, receiver likewise); each group holding all nine combinations of its horizontals
    (E/N or 1/2, per station) and Z is rotated with its azimuth and back-azimuth, and its
    channel codes get R/T/Z as the last letter (for example ``CI.A..BHE_CI.B..BHN`` →
    ``CI.A..BHR_CI.B..BHT``). The horizontals' azimuths come from the per-pair coordinates
    ``source_orientation`` / ``receiver_orientation`` (degrees, from StationXML) when present,
    else 90° for E and 0° for N; 1/2 channels need them. ``misorientation`` (``{"NET.STA": δ}``,
    see :func:`load_misorientation`) adds δ to every horizontal azimuth of that station. Every
    variable with a ``pair`` dim is rotated along its other dims; variables without it are
    copied.

    Groups lacking components or azimuths, auto-pairs (same station, no azimuth) and other
    channels are dropped with a log warning, or passed through unchanged with
    ``keep_other=True``. The result carries the attribute ``rotation`` naming the convention.
    Raises ``ValueError`` when nothing can be rotated.
    """
    import xarray as xr

    if "pair" not in ds.dims:
        raise ValueError("dataset has no 'pair' dimension")
    for name in ("azimuth", "backazimuth"):
        if name not in ds.coords:
            raise ValueError(f"dataset lacks the per-pair coordinate {name!r}")
    pairs = [str(p) for p in ds["pair"].values]
    orient = {side: np.asarray(ds[f"{side}_orientation"].values, np.float64)
              if f"{side}_orientation" in ds.coords else None for side in ("source", "receiver")}
    groups: dict[tuple[str, str], dict[str, int]] = {}
    other: list[int] = []
    for i, p in enumerate(pairs):
        src, rcv = _split_pair(p)
        a, b = src[-1], rcv[-1]
        if a not in _SLOT or b not in _SLOT or src.rsplit(".", 1)[0] == rcv.rsplit(".", 1)[0]:
            other.append(i)
            continue
        groups.setdefault((src[:-1], rcv[:-1]), {}).setdefault(_SLOT[a] + _SLOT[b], i)
    complete: dict[tuple[str, str], dict[str, int]] = {}
    azimuths: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for k, v in groups.items():
        if len(v) != 9:
            other.extend(v.values())
            log.warning("rotation: %s_%s lacks %s; not rotated", k[0], k[1],
                        ",".join(c for c in ENZ_COMPONENTS if c not in v))
            continue
        az_a = _station_azimuths(pairs, v, orient["source"], 0)
        az_b = _station_azimuths(pairs, v, orient["receiver"], 1)
        if az_a is None or az_b is None:
            other.extend(v.values())
            log.warning("rotation: %s_%s has 1/2 channels without azimuths; not rotated",
                        k[0], k[1])
            continue
        for az, station in ((az_a, k[0]), (az_b, k[1])):
            az += (misorientation or {}).get(".".join(station.split(".")[:2]), 0.0)
        complete[k] = v
        azimuths[k] = (az_a, az_b)
    if not complete:
        raise ValueError("no station pair has all nine E/N/Z components (or 1/2/Z); "
                         "nothing to rotate")
    if other and not keep_other:
        log.warning("rotation: dropping %d pairs that cannot be rotated", len(other))

    keys = list(complete)
    index = np.array([[complete[k][c] for k in keys] for c in ENZ_COMPONENTS])  # (9, groups)
    az = np.asarray(ds["azimuth"].values, dtype=np.float64)[index[-1]]
    baz = np.asarray(ds["backazimuth"].values, dtype=np.float64)[index[-1]]
    src_az = np.array([azimuths[k][0] for k in keys])
    rcv_az = np.array([azimuths[k][1] for k in keys])

    # Output order: station pair by station pair, RR ... ZZ within each.
    new_pairs = [f"{a}{c[0]}_{b}{c[1]}" for a, b in keys for c in RTZ_COMPONENTS]
    flat = index.T.reshape(-1)  # template pair for each output entry (coords copied from it)
    out_vars: dict[Hashable, xr.DataArray] = {}
    for name, var in ds.data_vars.items():
        if "pair" not in var.dims:
            out_vars[name] = var
            continue
        other_dims = [d for d in var.dims if d != "pair"]
        arr = var.transpose("pair", *other_dims).values
        tensor = arr[index]  # (9, groups, ...)
        if not np.issubdtype(tensor.dtype, np.floating):
            tensor = tensor.astype(np.float64)
        rotated = np.moveaxis(rotate_to_rtz(tensor, az, baz, src_az, rcv_az), 0, 1).reshape(
            -1, *arr.shape[1:])
        out_vars[name] = xr.DataArray(rotated, dims=("pair", *other_dims), attrs=var.attrs)

    coords = {}
    for cname, coord in ds.coords.items():
        if cname == "pair":
            continue
        if "pair" in coord.dims:
            coords[cname] = coord.isel(pair=flat).drop_vars("pair", errors="ignore")
        else:
            coords[cname] = coord
    out = xr.Dataset(out_vars, coords=coords, attrs=dict(ds.attrs))
    out = out.assign_coords(pair=("pair", new_pairs))
    # Channel-derived per-pair coordinates now describe the rotated channels.
    if "source" in out.coords and out["source"].dims == ("pair",):
        out = out.assign_coords(source=("pair", [p.split("_")[0] for p in new_pairs]))
    if "receiver" in out.coords and out["receiver"].dims == ("pair",):
        out = out.assign_coords(receiver=("pair", [p.split("_")[1] for p in new_pairs]))
    if "component" in out.coords and out["component"].dims == ("pair",):
        out = out.assign_coords(
            component=("pair", [c for _ in keys for c in RTZ_COMPONENTS])
        )
    if keep_other and other:
        out = xr.concat([out, ds.isel(pair=sorted(other))], dim="pair",
                        data_vars="all", coords="minimal", compat="override",
                        combine_attrs="override")
    out.attrs["rotation"] = (
        "ENZ->RTZ, Lin, Moschetti & Ritzwoller (2008): R along the source->receiver great circle "
        "at both stations, T = R turned 90 deg clockwise, Z up; first letter = source component"
        + ("; horizontals from channel azimuths" if orient["source"] is not None else "")
        + (f"; mis-orientation corrected for {len(misorientation)} stations"
           if misorientation else "")
    )
    for name in ("source_orientation", "receiver_orientation"):
        if name in out.coords and out[name].dims == ("pair",):
            out = out.drop_vars(name)
    return out



def rotate_results(url: str, *, scratch: str | Path, endpoint_url: str = "",
                   misorientation: dict[str, float] | None = None) -> str:
    """Rotate a stored results product and write it beside the input as ``<name>_rtz.zarr``.

    ``url`` is one Zarr product (local path or ``s3://``, e.g. ``…/stacks/all.zarr`` written by
    ``c4 stack``); it is opened with :func:`c4.store.open_results`, rotated with
    :func:`rotate_dataset` (pairs that cannot be rotated are dropped) and written with
    :func:`c4.store.write_dataset` through ``scratch`` (a local directory). Returns the new URL.
    """
    from c4.store import open_results, output_location, write_dataset

    url = str(url).rstrip("/")
    if not url.endswith(".zarr"):
        raise ValueError(f"url {url!r}: expected one .zarr results product")
    parent, _, name = url.rpartition("/")
    rotated = rotate_dataset(open_results(url, endpoint_url=endpoint_url),
                             misorientation=misorientation)
    # Text coordinates as Python strings, as the store writes them (no fixed-width unicode).
    text = {n: rotated[n].astype(object) for n in rotated.coords if rotated[n].dtype.kind == "U"}
    rotated = rotated.assign_coords(text)
    target = f"{name[: -len('.zarr')]}_rtz.zarr"
    write_dataset(rotated, output_location(parent or ".", endpoint_url), target, Path(scratch))
    return f"{parent}/{target}" if parent else target
