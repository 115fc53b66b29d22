"""dv/v end to end with a known answer: a synthetic diffuse-field archive whose medium becomes
1 % faster on a given day goes through ``c4 correlate`` -> ``c4 stack --moving`` -> ``c4 dvv``
(stretching and MWCS), and the recovered series matches the imposed one within its error bars.
Also: the moving stacks against the dailies, product reuse, Batch shard parts, and the figure."""

from __future__ import annotations

import datetime as dt
import glob
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
import tomllib
import xarray as xr
from c4.config import load_config
from c4.dvv.figure import dvv_figure
from c4.dvv.product import open_dvv, prepare, run_dvv, settings_with
from c4.products import resolve_product
from c4.store import open_daily, open_results, output_location
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage

from tests.pipeline_helpers import run_c4, small_archive, small_config

pytestmark = pytest.mark.slow

N_DAYS = 16
START = dt.date(2024, 1, 25)  # 7 days of January, 9 of February: two month shards
DAYS = [START + dt.timedelta(days=k) for k in range(N_DAYS)]
CHANGE = DAYS[8]  # the medium is 1 % faster from this day on (2 February)
DVV = 0.01
MOVING = 4
REFERENCE = f"{DAYS[0]}/{DAYS[5]}"
# The synthetic field has direct waves only, whose energy lies inside ±d/v: measure there.
DVV_SECTION = {"moving": f"{MOVING}d", "reference": [REFERENCE], "lag_min": 0.5,
               "lag_min_travel_times": 0.5, "lag_max_travel_times": 1.3}
# MWCS needs several windows per pair: from 1 s to twice the travel time, 6-s windows every 2 s,
# a regression through the origin (both branches pin it).
MWCS_SETTINGS = ["dvv.lag_min=1.0", "dvv.lag_min_travel_times=0.0",
                 "dvv.lag_max_travel_times=2.0", "dvv.mwcs_window=6.0", "dvv.mwcs_step=2.0",
                 "dvv.mwcs_intercept=false"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("dvv")
    arch = small_archive(root / "archive", days=N_DAYS, start=START, day_length_s=3600.0,
                         aperture_km=60.0,
                         band=(0.05, 1.5), velocity_changes={CHANGE: DVV})
    (root / "scratch").mkdir()
    cfg = small_config(arch, root / "out", root / "scratch", stack_methods=["linear"])
    doc = {**tomllib.loads(cfg.to_toml()), "dvv": DVV_SECTION}
    path = root / "c4.toml"
    path.write_text(tomli_w.dumps(doc))
    out: dict[str, Any] = {"root": root, "arch": arch, "path": path,
                           "cfg": load_config(path)}
    for name, args in [("january", ["correlate", "--index", "0"]),
                       ("february", ["correlate", "--index", "1"]),
                       ("moving", ["stack", "--moving", f"{MOVING}d", "--step", "1d"]),
                       ("stretching", ["dvv", "--method", "stretching"]),
                       ("mwcs", ["dvv", "--method", "mwcs", "--band", "0.1-1",
                                 *[a for kv in MWCS_SETTINGS for a in ("--set", kv)]])]:
        res = run_c4(*args, "--config", str(path))
        assert res.returncode == 0, res.stderr
        out[name] = res
    return out


def expected(ds: xr.Dataset, arch: dict[str, Any]) -> np.ndarray:
    """Imposed dv/v averaged over each window's days, minus its mean over the reference."""
    days = list(arch["days"])
    dvv = np.asarray(arch["dvv"])
    first, last = (dt.date.fromisoformat(d) for d in REFERENCE.split("/"))
    ref = np.mean([v for d, v in zip(days, dvv, strict=True) if first <= d <= last])
    out = []
    for a, b in zip(ds["window_start"].values, ds["window_end"].values, strict=True):
        lo, hi = (dt.date.fromisoformat(str(x)[:10]) for x in (a, b))
        out.append(np.mean([v for d, v in zip(days, dvv, strict=True) if lo <= d <= hi]))
    return np.array(out) - ref


@pytest.mark.parametrize("method", ["stretching", "mwcs"])
def test_recovers_the_imposed_velocity_change(run: dict[str, Any], method: str) -> None:
    url = run[method].stdout.strip().splitlines()[-1]
    assert url.endswith(f"dvv/{method}.zarr")
    ds = open_dvv(url)
    assert ds.sizes["pair"] == 6 and ds.sizes["time"] == N_DAYS
    assert ds.attrs["method"] == method and ds.attrs["reference_days"][-1] == str(DAYS[5])
    truth = expected(ds, run["arch"])
    net = ds["network_dvv"].sel(group="ZZ").values
    net_err = ds["network_dvv_err"].sel(group="ZZ").values
    # The network mean is within 3 standard errors of the imposed series at every window...
    assert np.all(np.abs(net - truth) <= 3 * net_err), (net - truth) / net_err
    # ... and so is (nearly) every pair's value; the errors are small enough to matter.
    z = (ds["dvv"].values - truth) / ds["dvv_err"].values
    finite = np.isfinite(z)
    assert finite.mean() > 0.6
    assert np.mean(np.abs(z[finite]) <= 3) >= 0.95, z
    assert np.nanmax(net_err) < 0.25 * DVV
    after = ds["window_start"].values >= np.datetime64(CHANGE)
    assert np.all(np.abs(net[after] - DVV) <= 3 * net_err[after])


def test_moving_stacks_are_means_of_the_dailies(run: dict[str, Any]) -> None:
    url = run["moving"].stdout.strip().splitlines()[-1]
    mov = open_results(url).load()
    daily = open_daily(str(run["root"] / "out"))
    assert mov.attrs["product"] == "moving_stack" and mov.attrs["moving_days"] == MOVING
    for k in (0, 7, N_DAYS - 1):
        lo, hi = mov["window_start"].values[k], mov["window_end"].values[k]
        days = daily["time"].values.astype("datetime64[D]")
        inside = daily.isel(time=np.flatnonzero((days >= lo) & (days <= hi)))
        for pair in mov["pair"].values[:3]:
            traces = inside["correlation"].sel(pair=pair).values
            used = inside["n_windows"].sel(pair=pair).values > 0
            np.testing.assert_allclose(mov["linear"].sel(pair=pair).values[k],
                                       traces[used].mean(axis=0), rtol=1e-5, atol=1e-7)
            assert mov["n_days"].sel(pair=pair).values[k] == used.sum()


def test_rerun_reuses_current_products(run: dict[str, Any], tmp_path: Path) -> None:
    res = run_c4("dvv", "--config", str(run["path"]), "--method", "stretching", "--output",
                 str(tmp_path / "again.zarr"))
    assert res.returncode == 0, res.stderr
    assert "are current, reusing them" in res.stderr
    a = open_dvv(str(tmp_path / "again.zarr"))
    b = open_dvv(str(run["root"] / "out" / "dvv" / "stretching.zarr"))
    np.testing.assert_array_equal(a["dvv"].values, b["dvv"].values)
    assert len(glob.glob(str(run["root"] / "out" / "stacks" / "reference_*.zarr"))) == 1


def test_day_shards_give_the_whole_product_and_merge(run: dict[str, Any],
                                                     tmp_path: Path) -> None:
    cfg = run["cfg"].model_copy(deep=True)
    cfg.data.shard = "day"
    url = str(tmp_path / "sharded.zarr")
    with pytest.raises(FileNotFoundError, match="run c4 dvv --prepare first"):
        run_dvv(cfg, output=url, index=0, settings=settings_with(cfg, moving="3d"))
    for index in range(N_DAYS - 1):
        part = run_dvv(cfg, output=url, index=index)
        assert part.endswith(f".parts/{DAYS[index]}.zarr")
    # One shard missing: readable as a partial product, never merged as a complete one.
    partial = open_dvv(url)
    assert partial.attrs["missing_shards"] == [str(DAYS[-1])]
    assert partial.sizes["time"] == N_DAYS - 1
    res = run_c4("dvv", "--config", str(run["path"]), "--output", url, "--merge")
    assert res.returncode == 1 and f"1 of 16 shards have no complete part ({DAYS[-1]})" \
        in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "sharded.zarr").exists()
    run_dvv(cfg, output=url, index=N_DAYS - 1)
    whole = open_dvv(str(run["root"] / "out" / "dvv" / "stretching.zarr"))
    joined = open_dvv(url)  # parts only, joined along time
    assert "missing_shards" not in joined.attrs
    np.testing.assert_array_equal(joined["time"].values, whole["time"].values)
    np.testing.assert_allclose(joined["dvv"].values, whole["dvv"].values)
    np.testing.assert_allclose(joined["network_dvv"].values, whole["network_dvv"].values)
    assert joined.attrs["settings_tag"] == whole.attrs["settings_tag"]
    # A shard re-run with another band: parts of two settings are never joined.
    run_dvv(cfg, output=url, index=3, settings=settings_with(cfg, freqmin=0.2, freqmax=0.8))
    with pytest.raises(ValueError, match="different settings"):
        open_dvv(url)
    run_dvv(cfg, output=url, index=3)
    res = run_c4("dvv", "--config", str(run["path"]), "--output", url, "--merge")
    assert res.returncode == 0, res.stderr
    store = resolve_product(output_location(str(tmp_path)), "sharded.zarr")
    assert store is not None
    meta = json.loads((tmp_path / store / "pair" / "zarr.json").read_text())
    assert meta["data_type"] == "string"
    np.testing.assert_allclose(open_dvv(url)["dvv"].values, whole["dvv"].values)


def test_a_shard_without_window_centres_writes_an_empty_part(run: dict[str, Any],
                                                              tmp_path: Path) -> None:
    cfg = run["cfg"].model_copy(deep=True)
    cfg.data.shard = "day"
    every_other = settings_with(cfg, moving_step="2d")  # centres on DAYS[0], DAYS[2], ...
    prepare(cfg, every_other)
    url = str(tmp_path / "sparse.zarr")
    for index in (0, 1):
        run_dvv(cfg, output=url, index=index, settings=every_other)
    entry = json.loads((tmp_path / "sparse.zarr.parts" / f"{DAYS[1]}.json").read_text())
    assert entry["complete"] and entry["n_time"] == 0
    assert entry["expected"] == [str(d) for d in DAYS[::2]]
    ds = open_dvv(url)
    assert ds.sizes["time"] == 1 and ds.attrs["missing_shards"] == [str(d) for d in DAYS[2::2]]


def test_a_part_is_complete_only_after_its_store(run: dict[str, Any], tmp_path: Path) -> None:
    """A child killed while writing its part leaves an entry marked not complete: the shard
    counts as missing, not as done."""
    cfg = run["cfg"].model_copy(deep=True)
    cfg.data.shard = "day"
    url = str(tmp_path / "killed.zarr")
    for index in (0, 1):
        run_dvv(cfg, output=url, index=index)
    entry = tmp_path / "killed.zarr.parts" / f"{DAYS[1]}.json"
    doc = json.loads(entry.read_text())
    assert doc["complete"] and doc["n_time"] == 1 and doc["shard"] == 1
    entry.write_text(json.dumps({**doc, "complete": False}))  # as left mid-write
    shutil.rmtree(tmp_path / "killed.zarr.parts" / f"{DAYS[1]}.zarr")
    ds = open_dvv(url)
    assert ds.sizes["time"] == 1 and str(DAYS[1]) in ds.attrs["missing_shards"]


def test_plot_dvv_draws_series_errors_and_interferogram(run: dict[str, Any],
                                                        tmp_path: Path) -> None:
    url = str(run["root"] / "out" / "dvv" / "stretching.zarr")
    res = run_c4("plot", "dvv", url, "-o", str(tmp_path / "dvv.png"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "dvv.png").stat().st_size > 10_000
    ds = open_dvv(url)
    stacks = open_results(ds.attrs["stacks"])
    pair = str(ds["pair"].values[2])
    fig = dvv_figure(ds, stacks, pair=pair)
    ax_img, ax_ts, ax_bar = fig.axes
    assert ax_ts.get_ylabel() == "dv/v (%)" and ax_ts.get_xlabel() == "window centre (UTC)"
    assert ax_img.get_xlabel().startswith("lag (s)") and ax_img.get_ylabel() == "window centre"
    assert ax_bar.get_ylabel() == "amplitude (each row / its peak)"
    assert "stretching" in ax_ts.get_title() and "0.1–1 Hz" in ax_ts.get_title()
    # The time axis is in dates of the product's window centres; the image's rows are too.
    fig.canvas.draw()
    first, last = (str(t)[:10] for t in ds["time"].values[[0, -1]])
    ticks = [t.get_text() for t in ax_ts.get_xticklabels() if t.get_text()]
    assert ticks and all(first <= str(dt.date.fromisoformat(t)) <= last for t in ticks), ticks
    rows = [t.get_text() for t in ax_img.get_yticklabels()]
    assert rows[0] == first and all(dt.date.fromisoformat(t) for t in rows)
    maxlag = run["cfg"].processing.maxlag
    lo, hi = ax_img.get_xlim()
    assert lo == pytest.approx(-maxlag, abs=0.2) and hi == pytest.approx(maxlag, abs=0.2)
    lines = {ln.get_gid(): ln for ln in ax_ts.get_lines()}
    assert set(map(str, ds["pair"].values)) <= set(lines)
    np.testing.assert_allclose(lines["network"].get_ydata(),
                               ds["network_dvv"].sel(group="ZZ").values * 100)
    np.testing.assert_allclose(lines[pair].get_ydata(), ds["dvv"].sel(pair=pair).values * 100)
    bands = {c.get_gid() for c in ax_ts.collections if isinstance(c, PolyCollection)}
    assert {"pair_err", "network_err"} <= bands
    image = next(im for im in ax_img.get_images() if isinstance(im, AxesImage))
    rows = stacks["linear"].sel(pair=pair).values
    np.testing.assert_allclose(image.get_array()[3], rows[3] / np.abs(rows[3]).max(), rtol=1e-5)
    assert {p.get_gid() for p in ax_img.patches} == {"lag_window"}
    bad = run_c4("plot", "dvv", url, "--pair", "XX.NOPE_XX.NADA", "-o", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and "not in the results" in bad.stderr


def test_user_mistakes_are_one_line(run: dict[str, Any]) -> None:
    res = run_c4("dvv", "--config", str(run["path"]), "--band", "1-0.1")
    assert res.returncode == 1 and "band '1-0.1'" in res.stderr and "Traceback" not in res.stderr
    res = run_c4("dvv", "--config", str(run["path"]), "--reference", "2023-01-01/2023-01-05")
    assert res.returncode == 1 and "no completed day with data in the reference" in res.stderr
    res = run_c4("dvv", "--config", str(run["path"]), "--set", "dvv.stack_method=median")
    assert res.returncode == 2 and "dvv.stack_method" in res.stderr
    res = run_c4("stack", "--config", str(run["path"]), "--moving", "4d", "--rotate")
    assert res.returncode == 1 and "do not combine with --moving" in res.stderr


def test_batch_array_job_on_s3_gives_the_local_product(run: dict[str, Any], aws_env: str,
                                                       tmp_path: Path) -> None:
    """`c4 dvv` as a Batch array job (moto server over HTTP): `c4 dvv --prepare` on an S3
    output store, `c4 submit` with `batch.command = ["dvv"]` (one child per month), each
    child's command run as the container runs it (AWS_BATCH_JOB_ARRAY_INDEX set), then
    `--merge`: equal to the product of one local run."""
    import boto3
    from c4.batch.resources import latest_job_definition
    from c4.cli import app
    from c4.objstore import Location
    from typer.testing import CliRunner

    from tests.batch_helpers import invoke, make_account, write_config

    account = make_account()
    out = f"s3://{account.bucket}/run"
    dest = Location(out)
    for folder in ("daily", "manifest"):  # the module's correlations, on S3
        dest.put_tree(run["root"] / "out" / folder, folder)
    # The campaign's archive on S3 too (a submit checks that instances can read it).
    Location(f"s3://{account.bucket}/archive").put_tree(Path(run["arch"]["root"]), "")
    batch_toml, suffix = write_config(tmp_path / "batch.toml", account)
    doc = tomllib.loads(run["path"].read_text())
    doc["output"].update(output=out, scratch="/scratch/c4")
    doc["data"].update(source=f"s3://{account.bucket}/archive",
                       stations=f"s3://{account.bucket}/archive/FDSNstationXML")
    doc["batch"] = tomllib.loads(batch_toml.read_text())["batch"]
    scratch = tmp_path / "scratch"  # what the container mounts at /scratch/c4
    scratch.mkdir()
    here = ["--set", f"output.scratch={json.dumps(str(scratch))}"]
    local_toml = tmp_path / "c4.toml"
    local_toml.write_text(tomli_w.dumps(doc))
    # The days as if correlated from the S3 copy of the archive (the same files): their
    # entries carry that config's fingerprint, else c4 refuses to stack them.
    s3_config = load_config(local_toml)
    for name in dest.list_names("manifest/days"):
        entry = json.loads(dest.read_bytes(f"manifest/days/{name}"))
        entry.update(fingerprint=s3_config.fingerprint(), config=s3_config.to_toml())
        dest.write_bytes(f"manifest/days/{name}", json.dumps(entry).encode())
    config_url = f"s3://{account.bucket}/c4.toml"
    boto3.client("s3").put_object(Bucket=account.bucket, Key="c4.toml",
                                  Body=local_toml.read_bytes())

    prep = invoke("dvv", "--config", config_url, "--prepare", *here)
    assert prep.exit_code == 0, prep.output
    submitted = invoke("submit", "--config", str(local_toml), "--config-url", config_url,
                       "--set", 'batch.command=["dvv"]', "--job-definition", f"c4-dvv-{suffix}",
                       "--job-name", "c4-dvv")  # as docs/results.md shows
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.split("Submitted job ")[1].split()[0]
    client = boto3.client("batch")
    (job,) = client.describe_jobs(jobs=[job_id])["jobs"]
    assert job["arrayProperties"]["size"] == 2  # January and February
    assert job["jobName"] == "c4-dvv"
    jd = latest_job_definition(client, f"c4-dvv-{suffix}")
    assert jd is not None
    command = jd["containerProperties"]["command"]
    assert command == ["dvv", "--config", config_url]

    runner = CliRunner()
    for child in range(2):
        res = runner.invoke(app, [*command, *here],
                            env={"AWS_BATCH_JOB_ARRAY_INDEX": str(child)},
                            catch_exceptions=False)
        assert res.exit_code == 0, res.output
    merged = invoke("dvv", "--config", config_url, "--merge", *here)
    assert merged.exit_code == 0, merged.output
    url = f"{out}/dvv/stretching.zarr"
    assert merged.stdout.strip() == url
    assert dest.list_names("dvv/stretching.zarr.parts") == ["2024-01.json", "2024-02.json"]
    assert all(resolve_product(dest, f"dvv/stretching.zarr.parts/2024-0{m}.zarr")
               for m in (1, 2))
    store = resolve_product(dest, "dvv/stretching.zarr")
    for name in ("pair", "group", "source"):  # strings stay Zarr's variable-length strings
        meta = json.loads(dest.read_bytes(f"{store}/{name}/zarr.json"))
        assert meta["data_type"] == "string", (name, meta["data_type"])
    got = open_dvv(url)
    whole = open_dvv(str(run["root"] / "out" / "dvv" / "stretching.zarr"))
    np.testing.assert_array_equal(got["time"].values, whole["time"].values)
    np.testing.assert_array_equal(got["pair"].values, whole["pair"].values)
    np.testing.assert_allclose(got["dvv"].values, whole["dvv"].values, rtol=1e-6)
    np.testing.assert_allclose(got["network_dvv"].values, whole["network_dvv"].values,
                               rtol=1e-6)
    assert list(scratch.iterdir()) == []  # the S3 copies were cleaned up
