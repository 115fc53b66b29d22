"""RTZ rotation of the nine-component correlation tensor (Lin, Moschetti & Ritzwoller 2008)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from c4.rotation import (
    ENZ_COMPONENTS,
    RTZ_COMPONENTS,
    rotate_dataset,
    rotate_results,
    rotate_to_enz,
    rotate_to_rtz,
)
from obspy.geodetics import gps2dist_azimuth

FS = 10.0  # Hz
MAXLAG = 40  # samples

# Station pairs (source lat, lon, receiver lat, lon) in degrees: short and long, all directions,
# including a high-latitude pair where the back-azimuth is far from azimuth + 180.
PAIRS = [
    (34.0, -118.0, 34.5, -118.0),  # due north
    (34.0, -118.0, 34.0, -117.4),  # about due east
    (34.0, -118.0, 33.6, -118.5),  # south-west
    (34.0, -118.0, 34.3, -118.6),  # west-north-west
    (60.0, -150.0, 70.0, -100.0),  # long, high latitude: baz - az - 180 ≈ 45 deg
    (-20.0, 30.0, -25.0, 29.0),  # southern hemisphere, south
]


def geometry() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance (km), azimuth at source and back-azimuth at receiver (deg), from obspy."""
    out = np.array([gps2dist_azimuth(*p) for p in PAIRS])
    return out[:, 0] / 1e3, out[:, 1], out[:, 2]


def correlate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c[τ] = Σ_t a(t) b(t + τ)`` for τ in -MAXLAG..MAXLAG samples (circular, zero-padded)."""
    n = len(a) + MAXLAG
    spec = np.conj(np.fft.rfft(a, 2 * n)) * np.fft.rfft(b, 2 * n)
    full = np.fft.irfft(spec, 2 * n)
    return np.concatenate([full[-MAXLAG:], full[: MAXLAG + 1]])


def wavefield_tensor(kind: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Nine-component correlations (9, pairs, lags) of a wave travelling from A to B.

    The wave is built from the geometry alone, not from c4.rotation: its horizontal motion is
    along the direction of travel (``kind="radial"``, with an independent vertical part, like a
    Rayleigh wave) or across it (``kind="transverse"``, like a Love wave). At the source A the
    direction of travel has azimuth θ (towards B); at B it has azimuth ψ + 180° (away from A).
    B records the wave ``delay`` samples after A.
    """
    _, az, baz = geometry()
    rng = np.random.default_rng(seed)
    n, delay = 4000, 17
    x = rng.standard_normal(n + delay)  # horizontal waveform
    z = rng.standard_normal(n + delay)  # vertical waveform (radial case only)
    tensor = np.zeros((9, len(PAIRS), 2 * MAXLAG + 1))
    for p, (theta, psi) in enumerate(zip(np.deg2rad(az), np.deg2rad(baz + 180.0), strict=True)):
        if kind == "radial":
            dir_a, dir_b, vert = theta, psi, 1.0
        else:  # transverse: 90° clockwise of the direction of travel, no vertical motion
            dir_a, dir_b, vert = theta + np.pi / 2, psi + np.pi / 2, 0.0
        # B lags A by `delay`: B(t) = wave(t - delay) when A(t) = wave(t).
        wa, za, wb, zb = x[delay:], z[delay:], x[:n], z[:n]
        at_a = {"E": np.sin(dir_a) * wa, "N": np.cos(dir_a) * wa, "Z": vert * za}
        at_b = {"E": np.sin(dir_b) * wb, "N": np.cos(dir_b) * wb, "Z": vert * zb}
        for c, comp in enumerate(ENZ_COMPONENTS):
            tensor[c, p] = correlate(at_a[comp[0]], at_b[comp[1]])
    return tensor, az, baz, delay


def energy(tensor: np.ndarray, comps: tuple[str, ...], labels: tuple[str, ...]) -> np.ndarray:
    """Sum of squares per pair over the named components."""
    idx = [labels.index(c) for c in comps]
    return (tensor[idx] ** 2).sum(axis=(0, 2))


def test_radial_wavefield_has_no_transverse_energy_at_any_azimuth() -> None:
    tensor, az, baz, delay = wavefield_tensor("radial")
    rtz = rotate_to_rtz(tensor, az, baz)
    radial = energy(rtz, ("RR", "RZ", "ZR", "ZZ"), RTZ_COMPONENTS)
    transverse = energy(rtz, ("RT", "TR", "TT", "TZ", "ZT"), RTZ_COMPONENTS)
    assert np.all(radial > 0)
    # Tolerance: the field is exactly radial, so only rounding remains (relative 1e-12).
    assert np.all(transverse <= 1e-12 * radial), transverse / radial
    # Each of RR and ZZ holds the energy of its waveform, and RR is positive at +delay: R points
    # along the direction of travel at *both* stations and a positive lag means source->receiver.
    rr = rtz[RTZ_COMPONENTS.index("RR")]
    assert np.all(np.argmax(rr, axis=1) == MAXLAG + delay)
    assert np.all(rr[:, MAXLAG + delay] > 0)
    # Before rotation the oblique pairs had energy in the mixed E/N terms.
    oblique = [2, 3, 4]
    enz_cross = energy(tensor, ("EN", "NE"), ENZ_COMPONENTS)
    assert np.all(enz_cross[oblique] > 0.1 * radial[oblique])


def test_transverse_wavefield_lands_in_tt_only() -> None:
    tensor, az, baz, delay = wavefield_tensor("transverse")
    rtz = rotate_to_rtz(tensor, az, baz)
    tt = energy(rtz, ("TT",), RTZ_COMPONENTS)
    rest = energy(rtz, tuple(c for c in RTZ_COMPONENTS if c != "TT"), RTZ_COMPONENTS)
    assert np.all(rest <= 1e-12 * tt)
    assert np.all(rtz[RTZ_COMPONENTS.index("TT"), :, MAXLAG + delay] > 0)


def test_back_azimuth_matters_on_the_sphere() -> None:
    """Using azimuth + 180 instead of the true back-azimuth leaks energy into T for long paths."""
    tensor, az, _, _ = wavefield_tensor("radial")
    flat = rotate_to_rtz(tensor, az, (az + 180.0) % 360.0)
    transverse = energy(flat, ("RT", "TR", "TT"), RTZ_COMPONENTS)
    radial = energy(flat, ("RR",), RTZ_COMPONENTS)
    assert transverse[4] > 0.1 * radial[4]  # the 60N -> 70N, 50 deg of longitude pair


def test_rotating_back_returns_the_input() -> None:
    rng = np.random.default_rng(7)
    pairs = 25
    tensor = rng.standard_normal((9, pairs, 4, 2 * MAXLAG + 1)).astype(np.float32)  # days too
    az = rng.uniform(0, 360, pairs)
    baz = rng.uniform(0, 360, pairs)
    rtz = rotate_to_rtz(tensor, az, baz)
    assert rtz.dtype == np.float32 and rtz.shape == tensor.shape
    np.testing.assert_allclose(rotate_to_enz(rtz, az, baz), tensor, rtol=0, atol=2e-6)
    # Rotation keeps the total energy of each pair (both matrices are orthonormal).
    np.testing.assert_allclose((rtz.astype(float) ** 2).sum(axis=(0, 2, 3)),
                               (tensor.astype(float) ** 2).sum(axis=(0, 2, 3)), rtol=1e-5)


@pytest.mark.parametrize(
    ("az", "baz", "expected"),
    [
        # Receiver due north: R = north and T = east at both stations.
        (0.0, 180.0, {"RR": "NN", "RT": "NE", "RZ": "NZ", "TR": "EN", "TT": "EE", "TZ": "EZ",
                      "ZR": "ZN", "ZT": "ZE", "ZZ": "ZZ"}),
        # Receiver due east: R = east and T = south (= -north) at both stations.
        (90.0, 270.0, {"RR": "EE", "RT": "-EN", "RZ": "EZ", "TR": "-NE", "TT": "NN",
                       "TZ": "-NZ", "ZR": "ZE", "ZT": "-ZN", "ZZ": "ZZ"}),
        # Receiver due south: R = south, T = west.
        (180.0, 0.0, {"RR": "NN", "RT": "NE", "RZ": "-NZ", "TR": "EN", "TT": "EE",
                      "TZ": "-EZ", "ZR": "-ZN", "ZT": "-ZE", "ZZ": "ZZ"}),
    ],
)
def test_hand_checked_cardinal_directions(az: float, baz: float, expected: dict[str, str]) -> None:
    rng = np.random.default_rng(3)
    tensor = rng.standard_normal((9, 1, 11))
    rtz = rotate_to_rtz(tensor, [az], [baz])
    for out, src in expected.items():
        sign = -1.0 if src.startswith("-") else 1.0
        np.testing.assert_allclose(
            rtz[RTZ_COMPONENTS.index(out), 0], sign * tensor[ENZ_COMPONENTS.index(src[-2:]), 0],
            atol=1e-12, err_msg=out,
        )


def test_matches_lin_et_al_2008_equation_1() -> None:
    """The horizontal block written out as in Lin, Moschetti & Ritzwoller (2008), eq. 1."""
    rng = np.random.default_rng(5)
    tensor = rng.standard_normal((9, 30, 3))
    az, baz = rng.uniform(0, 360, 30), rng.uniform(0, 360, 30)
    rtz = rotate_to_rtz(tensor, az, baz)
    t, p = np.deg2rad(az)[:, None], np.deg2rad(baz)[:, None]
    ee, en, ne, nn = (tensor[ENZ_COMPONENTS.index(c)] for c in ("EE", "EN", "NE", "NN"))
    s, c = np.sin, np.cos
    ref = {
        "TT": -c(t) * c(p) * ee + c(t) * s(p) * en - s(t) * s(p) * nn + s(t) * c(p) * ne,
        "RR": -s(t) * s(p) * ee - s(t) * c(p) * en - c(t) * c(p) * nn - c(t) * s(p) * ne,
        "TR": -c(t) * s(p) * ee - c(t) * c(p) * en + s(t) * c(p) * nn + s(t) * s(p) * ne,
        "RT": -s(t) * c(p) * ee + s(t) * s(p) * en + c(t) * s(p) * nn - c(t) * c(p) * ne,
    }
    for name, value in ref.items():
        np.testing.assert_allclose(rtz[RTZ_COMPONENTS.index(name)], value, atol=1e-12,
                                   err_msg=name)


def test_bad_shapes_are_errors_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="tensor"):
        rotate_to_rtz(np.zeros((8, 2, 5)), [0, 1], [0, 1])
    with pytest.raises(ValueError, match="azimuths"):
        rotate_to_rtz(np.zeros((9, 2, 5)), [0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="finite"):
        rotate_to_rtz(np.zeros((9, 1, 5)), [np.nan], [0])


def results_dataset() -> xr.Dataset:
    """A small results Dataset following the DESIGN.md contract: 2 station pairs x 9 + 1 auto."""
    tensor, az, baz, _ = wavefield_tensor("radial")
    dist, _, _ = geometry()
    lags = np.arange(-MAXLAG, MAXLAG + 1) / FS
    stations = [("CI", "AAA"), ("CI", "BBB"), ("CI", "CCC")]
    labels, srcs, rcvs, comps, dists, azs, bazs, rows = [], [], [], [], [], [], [], []
    for g, (a, b) in enumerate([(0, 1), (1, 2)]):
        for c, comp in enumerate(ENZ_COMPONENTS):
            src = f"{stations[a][0]}.{stations[a][1]}..BH{comp[0]}"
            rcv = f"{stations[b][0]}.{stations[b][1]}..BH{comp[1]}"
            labels.append(f"{src}_{rcv}")
            srcs.append(src)
            rcvs.append(rcv)
            comps.append(comp)
            dists.append(dist[g + 3])
            azs.append(az[g + 3])
            bazs.append(baz[g + 3])
            rows.append(tensor[c, g + 3])
    labels.append("CI.AAA..BHZ_CI.AAA..BHZ")  # auto-correlation: no azimuth
    srcs.append("CI.AAA..BHZ")
    rcvs.append("CI.AAA..BHZ")
    comps.append("ZZ")
    dists.append(0.0)
    azs.append(np.nan)
    bazs.append(np.nan)
    rows.append(np.ones(len(lags)))
    linear = np.array(rows, dtype=np.float32)
    daily = np.stack([linear, 2 * linear], axis=1)  # (pair, time, lag)
    return xr.Dataset(
        {"linear": (("pair", "lag"), linear), "daily": (("pair", "time", "lag"), daily),
         "n_windows": ("time", np.array([10, 12]))},
        coords={"pair": labels, "lag": lags, "time": np.array(["2024-01-01", "2024-01-02"],
                                                              dtype="datetime64[ns]"),
                "source": ("pair", srcs), "receiver": ("pair", rcvs),
                "component": ("pair", comps), "distance_km": ("pair", dists),
                "azimuth": ("pair", azs), "backazimuth": ("pair", bazs)},
        attrs={"c4_version": "test"},
    )


def test_rotate_dataset_renames_channels_and_rotates_every_pair_variable() -> None:
    ds = results_dataset()
    out = rotate_dataset(ds)
    assert out.sizes["pair"] == 18 and out.sizes["lag"] == ds.sizes["lag"]
    assert list(out["component"].values[:9]) == list(RTZ_COMPONENTS)
    assert out["pair"].values[1] == "CI.AAA..BHR_CI.BBB..BHT"
    assert out["source"].values[1] == "CI.AAA..BHR" and out["receiver"].values[1] == "CI.BBB..BHT"
    np.testing.assert_allclose(out["azimuth"].values[:9], ds["azimuth"].values[0])
    assert out["linear"].dtype == np.float32
    assert "rotation" in out.attrs and out.attrs["c4_version"] == "test"
    np.testing.assert_array_equal(out["n_windows"].values, [10, 12])
    # Values equal the array function on the same group; the field is radial so T is empty.
    ref = rotate_to_rtz(ds["linear"].values[:9, None], ds["azimuth"].values[:1],
                        ds["backazimuth"].values[:1])[:, 0]
    np.testing.assert_allclose(out["linear"].values[:9], ref, rtol=1e-6)
    tt = out["linear"].sel(pair="CI.AAA..BHT_CI.BBB..BHT").values
    rr = out["linear"].sel(pair="CI.AAA..BHR_CI.BBB..BHR").values
    assert (tt**2).sum() < 1e-10 * (rr**2).sum()
    # The day dimension is rotated alike (day 2 is twice day 1).
    daily = out["daily"].transpose("pair", "time", "lag").values
    np.testing.assert_allclose(daily[:, 1], 2 * daily[:, 0], rtol=1e-6)
    np.testing.assert_allclose(daily[:, 0], out["linear"].values, rtol=1e-6)


def test_rotate_dataset_keeps_or_drops_what_it_cannot_rotate() -> None:
    ds = results_dataset()
    kept = rotate_dataset(ds, keep_other=True)
    assert kept.sizes["pair"] == 19
    assert "CI.AAA..BHZ_CI.AAA..BHZ" in set(kept["pair"].values)
    incomplete = ds.drop_sel(pair=["CI.AAA..BHE_CI.BBB..BHN"])
    out = rotate_dataset(incomplete)
    assert out.sizes["pair"] == 9
    assert not any(p.startswith("CI.AAA") for p in out["pair"].values)
    with pytest.raises(ValueError, match="nine"):
        rotate_dataset(ds.isel(pair=[0, 1, 18]))


def test_rotate_results_writes_an_rtz_product(tmp_path: Path) -> None:
    store = pytest.importorskip("c4.store")
    ds = results_dataset().drop_vars(["daily", "n_windows"])
    ds = ds.assign_coords({n: ds[n].astype(object) for n in ds.coords if ds[n].dtype.kind == "U"})
    (tmp_path / "scratch").mkdir()
    loc = store.output_location(str(tmp_path / "out" / "stacks"))
    store.write_dataset(ds, loc, "all.zarr", tmp_path / "scratch")
    src = str(tmp_path / "out" / "stacks" / "all.zarr")
    url = rotate_results(src, scratch=tmp_path / "scratch")
    assert url == str(tmp_path / "out" / "stacks" / "all_rtz.zarr")
    back = store.open_results(url)
    expected = rotate_dataset(store.open_results(str(tmp_path / "out" / "stacks" / "all.zarr")))
    assert list(back.pair.values) == list(expected.pair.values)
    assert list(back.component.values[:9]) == list(RTZ_COMPONENTS)
    np.testing.assert_allclose(back.linear.values, expected.linear.values)
    assert "Lin, Moschetti & Ritzwoller" in back.attrs["rotation"]


def test_stack_rotate_option_is_wired(tmp_path: Path) -> None:
    """`c4 stack --rotate` runs the rotation; the demo is vertical-only, so it reports why not."""
    demo = pytest.importorskip("c4.demo")
    from c4.cli import app
    from typer.testing import CliRunner

    demo.run_demo(tmp_path, days=1, n_stations=3)
    res = CliRunner().invoke(app, ["stack", "--config", str(tmp_path / "c4.toml"), "--name",
                                   "again", "--rotate"])
    assert res.exit_code == 1, res.output
    assert "nine E/N/Z components" in res.output
    assert (tmp_path / "results" / "stacks" / "again.zarr").is_dir()
    assert not (tmp_path / "results" / "stacks" / "again_rtz.zarr").exists()
