"""``c4 dvv`` and ``c4 plot dvv``. Bodies call one library function; user mistakes become one
line and exit code 2 (config) or 1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from c4.pipeline_cli import _CONFIG_OPT, _SET_OPT, _load, _user_errors, out_console

Opt = typer.Option


def dvv_command(
    config: str | None = _CONFIG_OPT,
    output: Annotated[str | None, Opt(
        "--output", "-o", help="Product store (path or s3:// URL, .zarr); default "
        "<output.output>/dvv/<method>.zarr.")] = None,
    method: Annotated[str | None, Opt("--method", "-m",
                                      help="stretching or mwcs (default dvv.method).")] = None,
    band: Annotated[str | None, Opt("--band", help="Band FMIN-FMAX in Hz, e.g. 0.1-1 (default "
                                    "dvv.freqmin/freqmax, else the processing band).")] = None,
    moving: Annotated[str | None, Opt("--moving", help="Moving-window length, e.g. 10d "
                                      "(default dvv.moving).")] = None,
    step: Annotated[str | None, Opt("--step", help="Step between windows (default "
                                    "dvv.moving_step).")] = None,
    reference: Annotated[list[str] | None, Opt(
        "--reference", help="Reference: all, YYYY-MM-DD, YYYY-MM-DD/YYYY-MM-DD (repeatable) "
        "or a .zarr stack store (default dvv.reference).")] = None,
    stacks: Annotated[str | None, Opt("--stacks", help="Use this moving-stack store instead "
                                      "of finding or making one.")] = None,
    index: Annotated[int | None, Opt(
        "--index", "-i", help="Measure only the window centres of this shard (a month or day "
        "as data.shard) and write a part; default AWS_BATCH_JOB_ARRAY_INDEX if set.")] = None,
    merge: Annotated[bool, Opt("--merge", help="Join the complete shard parts into the "
                               "product store and stop.")] = False,
    prepare: Annotated[bool, Opt("--prepare", help="Only make the moving stacks and the "
                                 "reference (before a Batch job of shards).")] = False,
    overrides: list[str] | None = _SET_OPT,
) -> None:
    """Velocity changes (dv/v) per pair and time, and network means, from the daily
    correlations: moving stacks, reference, stretching or MWCS."""
    from c4.dvv import product
    from c4.dvv.config import parse_band
    from c4.shards import current_shard

    with _user_errors():
        cfg = _load(config, overrides)
        lo_hi = parse_band(band) if band else (None, None)
        s = product.settings_with(cfg, method=method, freqmin=lo_hi[0], freqmax=lo_hi[1],
                          moving=moving, moving_step=step, reference=reference or None)
        url = output or f"{cfg.output.output.rstrip('/')}/dvv/{s.method}.zarr"
        if merge:
            out_console.print(product.merge_parts(cfg, url))
            return
        if prepare:
            for made in product.prepare(cfg, s):
                out_console.print(made)
            return
        shard = current_shard(index) if index is not None or os.environ.get(
            "AWS_BATCH_JOB_ARRAY_INDEX") else None
        out_console.print(product.run_dvv(cfg, output=url, settings=s, stacks=stacks,
                                          index=shard))


def plot_dvv_command(
    product: Annotated[str, typer.Argument(help="dv/v product (path or s3:// URL).")],
    pair: Annotated[str | None, typer.Option(
        "--pair", help="Pair drawn with its error band and interferogram (default: the one "
        "with most measurements).")] = None,
    component: Annotated[str | None, typer.Option(
        "--component", "-c", help="Component when PAIR names stations only.")] = None,
    group: Annotated[str | None, typer.Option(
        "--group", help="Network mean drawn: a component or all.")] = None,
    no_interferogram: Annotated[bool, typer.Option(
        "--no-interferogram", help="Only the time series (no moving stacks needed).")] = False,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file: .png, .pdf or "
                                         ".svg.")] = Path("dvv.png"),
    dpi: Annotated[int, typer.Option("--dpi", min=20, max=600, help="Pixels per inch.")] = 100,
    endpoint_url: Annotated[str, typer.Option(envvar="C4_ENDPOINT_URL",
                                              help="S3 endpoint.")] = "",
) -> None:
    """dv/v time series per pair and network mean with error bands, the interferogram beside."""
    from c4.dvv.figure import dvv_figure
    from c4.dvv.product import open_dvv
    from c4.plot import _run
    from c4.store import open_results

    def make():  # type: ignore[no-untyped-def]
        ds = open_dvv(product, endpoint_url=endpoint_url)
        stacks = None if no_interferogram else open_results(ds.attrs["stacks"],
                                                            endpoint_url=endpoint_url)
        return dvv_figure(ds, stacks, pair=pair, component=component, group=group)

    _run(make, output, dpi)


def register(app: typer.Typer, plot_app: typer.Typer) -> None:
    """Add ``c4 dvv`` to the top-level app and ``dvv`` to ``c4 plot``."""
    app.command("dvv")(dvv_command)
    plot_app.command("dvv")(plot_dvv_command)
