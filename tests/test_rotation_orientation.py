"""RTZ rotation of sensors that are not east/north: 1/2 channels with metadata azimuths and a
mis-orientation table. The recordings are built from the wave's ground motion and each
component's azimuth (``u = E sin α + N cos α``), not from c4.rotation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from c4.rotation import (
    ENZ_COMPONENTS,
    RTZ_COMPONENTS,
    load_misorientation,
    rotate_dataset,
    rotate_to_rtz,
)

from tests.test_rotation import MAXLAG, correlate, geometry

N, DELAY = 4000, 17


def recorded_tensor(kind: str, src_az: np.ndarray, rcv_az: np.ndarray, seed: int = 1
                    ) -> np.ndarray:
    """(9, pairs, lags) correlations of a wave travelling A -> B recorded by horizontals of
    azimuths ``src_az`` / ``rcv_az`` ((pairs, 2), degrees: first, second horizontal)."""
    _, az, baz = geometry()
    rng = np.random.default_rng(seed)
    x, z = rng.standard_normal(N + DELAY), rng.standard_normal(N + DELAY)
    out = np.zeros((9, len(az), 2 * MAXLAG + 1))
    for p, (theta, psi) in enumerate(zip(np.deg2rad(az), np.deg2rad(baz + 180.0), strict=True)):
        turn = 0.0 if kind == "radial" else np.pi / 2
        vert = 1.0 if kind == "radial" else 0.0
        motion_a = (np.sin(theta + turn) * x[DELAY:], np.cos(theta + turn) * x[DELAY:])
        motion_b = (np.sin(psi + turn) * x[:N], np.cos(psi + turn) * x[:N])

        def components(motion: tuple[np.ndarray, np.ndarray], azimuths: np.ndarray,
                       vertical: np.ndarray) -> dict[str, np.ndarray]:
            e, n = motion
            a1, a2 = np.deg2rad(azimuths)
            return {"E": np.sin(a1) * e + np.cos(a1) * n,  # first horizontal (E slot)
                    "N": np.sin(a2) * e + np.cos(a2) * n,  # second horizontal (N slot)
                    "Z": vertical}

        at_a = components(motion_a, src_az[p], vert * z[DELAY:])
        at_b = components(motion_b, rcv_az[p], vert * z[:N])
        for c, comp in enumerate(ENZ_COMPONENTS):
            out[c, p] = correlate(at_a[comp[0]], at_b[comp[1]])
    return out


@pytest.mark.parametrize("kind", ["radial", "transverse"])
def test_known_misorientation_recovers_the_unrotated_result(kind: str) -> None:
    _, az, baz = geometry()
    n = len(az)
    true_en = np.tile([90.0, 0.0], (n, 1))
    delta_a, delta_b = 17.0, -32.0  # both sensors turned clockwise by these angles
    turned_a, turned_b = true_en + delta_a, true_en + delta_b
    ideal = rotate_to_rtz(recorded_tensor(kind, true_en, true_en), az, baz)
    recorded = recorded_tensor(kind, turned_a, turned_b)
    corrected = rotate_to_rtz(recorded, az, baz, turned_a, turned_b)
    np.testing.assert_allclose(corrected, ideal, atol=1e-9 * np.abs(ideal).max())
    # Uncorrected, energy leaks into the wrong components.
    naive = rotate_to_rtz(recorded, az, baz)
    assert np.abs(naive - ideal).max() > 0.1 * np.abs(ideal).max()


def test_one_two_channels_with_arbitrary_azimuths() -> None:
    _, az, baz = geometry()
    n = len(az)
    src = np.tile([30.0, 120.0], (n, 1))  # "1" at N30E, "2" at N120E
    rcv = np.tile([355.0, 80.0], (n, 1))  # not even orthogonal
    ideal = rotate_to_rtz(recorded_tensor("radial", np.tile([90.0, 0.0], (n, 1)),
                                          np.tile([90.0, 0.0], (n, 1))), az, baz)
    got = rotate_to_rtz(recorded_tensor("radial", src, rcv), az, baz, src, rcv)
    np.testing.assert_allclose(got, ideal, atol=1e-9 * np.abs(ideal).max())
    transverse = [RTZ_COMPONENTS.index(c) for c in ("RT", "TR", "TT", "TZ", "ZT")]
    assert np.abs(got[transverse]).max() < 1e-9 * np.abs(got).max()


def one_two_dataset(src_az: np.ndarray, rcv_az: np.ndarray, letters: str) -> xr.Dataset:
    """Results Dataset of station pair 3 (geometry()) with channels BH<letters[0]>,
    BH<letters[1]>, BHZ and per-pair channel orientations."""
    _, az, baz = geometry()
    p = 3
    tensor = recorded_tensor("radial", src_az, rcv_az)
    code = {"E": letters[0], "N": letters[1], "Z": "Z"}
    names, so, ro, rows = [], [], [], []
    for c, comp in enumerate(ENZ_COMPONENTS):
        names.append(f"XX.AAA..BH{code[comp[0]]}_XX.BBB..BH{code[comp[1]]}")
        so.append({"E": src_az[p, 0], "N": src_az[p, 1], "Z": np.nan}[comp[0]])
        ro.append({"E": rcv_az[p, 0], "N": rcv_az[p, 1], "Z": np.nan}[comp[1]])
        rows.append(tensor[c, p])
    lags = np.arange(-MAXLAG, MAXLAG + 1) / 10.0
    return xr.Dataset({"linear": (("pair", "lag"), np.array(rows))},
                      coords={"pair": names, "lag": lags, "azimuth": ("pair", [az[p]] * 9),
                              "backazimuth": ("pair", [baz[p]] * 9),
                              "source_orientation": ("pair", so),
                              "receiver_orientation": ("pair", ro)})


def test_rotate_dataset_uses_channel_azimuths_and_the_misorientation_table(
        tmp_path: Path) -> None:
    _, az, baz = geometry()
    n = len(az)
    en = np.tile([90.0, 0.0], (n, 1))
    ideal = rotate_to_rtz(recorded_tensor("radial", en, en), az, baz)[:, 3]
    # 1/2 channels whose StationXML azimuths are right.
    src, rcv = np.tile([30.0, 120.0], (n, 1)), np.tile([200.0, 290.0], (n, 1))
    out = rotate_dataset(one_two_dataset(src, rcv, "12"))
    assert out["pair"].values[0] == "XX.AAA..BHR_XX.BBB..BHR"
    np.testing.assert_allclose(out["linear"].values, ideal, atol=1e-9 * np.abs(ideal).max())
    assert "source_orientation" not in out.coords
    # E/N channels whose metadata says 90/0 but the receiver's sensor is turned by 25 degrees:
    # the table corrects it.
    table = tmp_path / "misorientation.csv"
    table.write_text("network,station,correction_deg\nXX,BBB,25\n")
    turned = en + 25.0
    ds = one_two_dataset(en, turned, "EN")
    ds = ds.assign_coords(receiver_orientation=("pair", np.where(
        np.isnan(ds["receiver_orientation"].values), np.nan, 0.0)))  # metadata: 90 / 0
    ds["receiver_orientation"].values[[0, 3, 6]] = 90.0
    fixed = rotate_dataset(ds, misorientation=load_misorientation(table))
    np.testing.assert_allclose(fixed["linear"].values, ideal, atol=1e-9 * np.abs(ideal).max())
    naive = rotate_dataset(ds)
    assert np.abs(naive["linear"].values - ideal).max() > 0.1 * np.abs(ideal).max()


def test_one_two_channels_without_azimuths_are_not_rotated() -> None:
    n = len(geometry()[1])
    ds = one_two_dataset(np.tile([30.0, 120.0], (n, 1)), np.tile([30.0, 120.0], (n, 1)), "12")
    ds = ds.drop_vars(["source_orientation", "receiver_orientation"])
    with pytest.raises(ValueError, match="nothing to rotate"):
        rotate_dataset(ds)


def test_misorientation_table_errors_name_the_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("network,station,angle\nXX,BBB,3\n")
    with pytest.raises(ValueError, match="correction_deg"):
        load_misorientation(bad)
