"""Commands of the pipeline: ``c4 correlate``, ``c4 stack``, ``c4 export``, ``c4 demo`` and
``c4 config init|show``. Each body calls one library function; user mistakes (bad config,
missing scratch, no data) become a one-line message and exit code 2 (config) or 1."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from c4.config import Config

log = logging.getLogger("c4")
err_console = Console(stderr=True, soft_wrap=True)
out_console = Console()

config_app = typer.Typer(help="Write or check c4.toml.", no_args_is_help=True)

_CONFIG_OPT = typer.Option(None, "--config", "-c", envvar="C4_CONFIG",
                           help="c4.toml (path or s3:// URL); defaults apply when omitted.")
_SET_OPT = typer.Option(None, "--set", help="Override a key: section.key=value (repeatable).")
_STACK_METHOD_OPT = typer.Option(
    None, "--method", "-m", help="Stack method (repeatable): linear, pws, robust, nroot, "
    "tfpws, selective; default processing.stack_methods.")
_MISORIENTATION_OPT = typer.Option(
    None, "--misorientation", help="With --rotate: CSV network,station,correction_deg of "
    "sensors turned clockwise from their metadata.")
_OUT_OPT = typer.Option(Path("sac"), "--out", "-o", help="Folder for the SAC files.")
_EXPORT_METHOD_OPT = typer.Option(None, "--method", "-m",
                                  help="Stacks to export (default: all).")
_DIR_OPT = typer.Option(None, "--dir", help="Folder for the archive and results (default: a "
                        "new folder in the system temp dir, kept).")
_REDO_OPT = typer.Option(None, "--redo", help="Recompute this day (YYYY-MM-DD, repeatable) or "
                         "'all' days of the shard even when complete.")
_INIT_PATH_ARG = typer.Argument(None, help="File to write ('-' for stdout); default c4.toml, "
                                "or stdout when it is not a terminal (c4 config init > "
                                "c4.toml).", show_default=False)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn domain errors into one line (and a hint) and an exit code, never a traceback
    (only with ``-v``); exit codes in :mod:`c4.failures`."""
    from c4.failures import FAILED, Failure, emit, explain
    from c4.sources.fdsn import FdsnError

    try:
        yield
    except Exception as exc:
        failure = explain(exc)
        if failure is None and isinstance(exc, (FdsnError, FileNotFoundError, IndexError,
                                                ValueError)):
            failure = Failure(str(exc), "", FAILED)
        if failure is None:
            raise
        from c4.progress import get_verbosity

        if get_verbosity()["verbose"]:
            import traceback

            from c4.redact import redact

            sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        emit(failure)
        raise typer.Exit(failure.exit_code) from None


def _load(config: str | None, overrides: list[str] | None, **extra: str | None) -> Config:
    from c4.config import load_config

    sets = list(overrides or [])
    for key, value in extra.items():
        if value is not None:
            sets.append(f"{key}={value!r}".replace("'", '"'))
    return load_config(config, sets)


def correlate_command(
    config: str | None = _CONFIG_OPT,
    index: int | None = typer.Option(
        None, "--index", "-i", help="Shard to run (default: AWS_BATCH_JOB_ARRAY_INDEX, "
        "mapped through C4_SHARD_MAP when set)."),
    output: str | None = typer.Option(None, help="Override output.output."),
    scratch: str | None = typer.Option(None, help="Override output.scratch."),
    overrides: list[str] | None = _SET_OPT,
    redo: list[str] | None = _REDO_OPT,
) -> None:
    """Correlate one shard (a month by default): fetch, preprocess, correlate, stack, write.

    Before the first download it checks that the output can be written, the source listed and
    scratch used (c4.preflight); exit codes: 0 done, 1 the run failed, 2 configuration,
    130/143 interrupted (docs/results.md). ``--redo`` recomputes complete days."""
    from c4.days import parse_redo
    from c4.pipeline import run_shard
    from c4.preflight import check_run
    from c4.progress import reporter_from_context
    from c4.shards import current_shard

    try:
        redo_days = parse_redo(redo)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    with _user_errors():
        cfg = _load(config, overrides, **{"output.output": output, "output.scratch": scratch})
        shard = current_shard(index)
        check_run(cfg)
        with reporter_from_context() as rep:
            summary = run_shard(cfg, shard, reporter=rep, redo=redo_days)
    log.info("%s", shard_summary_line(summary, cfg))


def shard_summary_line(summary: dict[str, object], cfg: Config) -> str:
    """``shard 2024-01 done: 3 days computed, 28 skipped; results <absolute path>``.

    Counts every list ``days_<state>`` of the summary (computed, skipped, and the states
    the shard reports besides, e.g. empty or failed) and names the store by its absolute
    path or URL."""
    from c4.objstore import is_s3, join

    counts = []
    if summary.get("shard_skipped"):
        days = summary.get("days")
        counts.append(f"already complete, {len(days) if isinstance(days, list) else 0} "
                      "skipped")
    for key, value in summary.items():
        if summary.get("shard_skipped"):
            break
        if key.startswith("days_") and isinstance(value, (list, tuple)):
            if value or key in ("days_computed", "days_skipped"):
                unit = "" if counts else (" day" if len(value) == 1 else " days")
                counts.append(f"{len(value)}{unit} {key.removeprefix('days_')}")
    base = cfg.output.output if is_s3(cfg.output.output) else str(
        Path(cfg.output.output).resolve())
    store = summary.get("store")
    where = join(base, str(store)) if store else f"{base} (no stack: no day with data)"
    label = summary.get("label")
    return f"shard {label} done: {', '.join(counts) or 'no days'}; results {where}"


def stack_command(
    config: str | None = _CONFIG_OPT,
    name: str | None = typer.Option(None, help="Product name: writes stacks/<name>.zarr "
                                    "(default: all, or moving_<L>d_<S>d with --moving)."),
    method: list[str] | None = _STACK_METHOD_OPT,
    start: str | None = typer.Option(None, help="First day (YYYY-MM-DD); default: first."),
    end: str | None = typer.Option(None, help="Last day (YYYY-MM-DD); default: last."),
    output: str | None = typer.Option(None, help="Override output.output."),
    overrides: list[str] | None = _SET_OPT,
    rotate: bool = typer.Option(False, "--rotate", help="Also write stacks/<name>_rtz.zarr: "
                                "E/N/Z (or 1/2/Z) components rotated to R/T/Z (Lin et al. "
                                "2008), horizontals at their StationXML azimuths."),
    misorientation: Path | None = _MISORIENTATION_OPT,
    moving: str | None = typer.Option(None, "--moving", help="Moving-window stacks of this "
                                      "many days (e.g. 10d) instead of one stack."),
    step: str = typer.Option("1d", "--step", help="Step between moving windows (with "
                             "--moving)."),
    days_settings: bool = typer.Option(
        False, "--days-settings", help="Stack the days with the settings they were made with "
        "(recorded with each day) when they differ from this config's; without it that is an "
        "error naming the keys that differ."),
) -> None:
    """Stack the finished days of the output store (e.g. 12 monthly shards into a year), or
    stack them in moving windows (``--moving 10d --step 1d``) for monitoring."""
    from c4.stacking import stack_results

    with _user_errors():
        if moving is not None and (rotate or misorientation is not None):
            raise ValueError("--rotate and --misorientation rotate one stack; they do not "
                             "combine with --moving")
        cfg = _load(config, overrides, **{"output.output": output})
        table = None
        if misorientation is not None:
            from c4.rotation import load_misorientation

            if not misorientation.is_file():
                raise FileNotFoundError(f"--misorientation: {misorientation} not found")
            table = load_misorientation(misorientation)
        first = dt.date.fromisoformat(start) if start else None
        last = dt.date.fromisoformat(end) if end else None
        if moving is not None:
            from c4.dvv.config import parse_days
            from c4.moving import moving_stack_results

            url = moving_stack_results(
                cfg, length=parse_days(moving, "--moving"), step=parse_days(step, "--step"),
                name=name, methods=method or None, start=first, end=last,
                days_settings=days_settings)
        else:
            url = stack_results(cfg, name=name or "all", methods=method or None, start=first,
                                end=last, days_settings=days_settings)
        if rotate:
            from c4.rotation import rotate_results

            out_console.print(url)
            url = rotate_results(url, scratch=cfg.scratch_dir(),
                                 endpoint_url=cfg.data.endpoint_url, misorientation=table)
    out_console.print(url)


def export_command(
    url: str = typer.Argument(..., help="Results: an output store or a .zarr store "
                              "(path or s3://)."),
    out: Path = _OUT_OPT,
    method: list[str] | None = _EXPORT_METHOD_OPT,
    endpoint_url: str = typer.Option("", envvar="C4_ENDPOINT_URL",
                                     help="S3 endpoint (default AWS_ENDPOINT_URL / AWS)."),
) -> None:
    """Write results as SAC files (distances and coordinates in the headers)."""
    from c4.export import export_sac
    from c4.store import open_results

    with _user_errors():
        ds = open_results(url, endpoint_url=endpoint_url)
        paths = export_sac(ds, out, method or None)
    out_console.print(f"wrote {len(paths)} SAC files to {out}")


def demo_command(
    directory: Path | None = _DIR_OPT,
    days: int = typer.Option(3, min=1, help="Days of synthetic data."),
    stations: int = typer.Option(6, min=2, help="Stations of the synthetic network."),
    day_length: float = typer.Option(7200.0, help="Seconds of data per day file."),
) -> None:
    """Correlate a synthetic network with a known velocity and compare with theory."""
    import tempfile

    from c4.demo import run_demo
    from c4.progress import reporter_from_context

    def go(folder: Path) -> None:
        with reporter_from_context() as rep:
            res = run_demo(folder, days=days, n_stations=stations, day_length_s=day_length,
                           reporter=rep)
        table = Table(title=f"c4 demo: {stations} stations, {days} days, "
                      f"v = {res.true_velocity_km_s} km/s (lags in s)")
        for col in ("pair", "dist km", "acausal", "theory", "causal", "theory"):
            table.add_column(col, justify="left" if col == "pair" else "right")
        for r in res.rows:
            table.add_row(str(r["pair"]), f"{r['distance_km']:.2f}", f"{r['acausal_s']:.2f}",
                          f"{r['theory_acausal_s']:.2f}", f"{r['causal_s']:.2f}",
                          f"{r['theory_causal_s']:.2f}")
        out_console.print(table)
        err = (res.velocity_km_s / res.true_velocity_km_s - 1) * 100
        out_console.print(
            f"fitted velocity {res.velocity_km_s:.3f} km/s, true {res.true_velocity_km_s:.3f} "
            f"km/s ({err:+.2f} %); largest peak-lag difference from theory "
            f"{res.max_lag_error_samples:.0f} samples; {res.seconds:.1f} s")
        ok = res.max_lag_error_samples <= 3 and abs(err) <= 2
        out_console.print("[bold green]PASS[/]" if ok else "[bold red]FAIL[/]")
        out_console.print(f"results: {folder / 'results'} (c4.open_results; the archive, "
                          f"config and results stay in {folder})", highlight=False)
        if not ok:
            raise typer.Exit(1)

    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="c4-demo-"))
        err_console.print(f"working in {directory} (kept afterwards; --dir chooses the "
                          "folder)", highlight=False)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with _user_errors():
        go(directory)


@config_app.command("init")
def config_init(
    path: Path | None = _INIT_PATH_ARG,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented c4.toml with every key at its default."""
    from c4.config import default_toml

    text = default_toml()
    if path is None and not sys.stdout.isatty():
        path = Path("-")  # redirected: the shell has already created (emptied) the file
    path = path if path is not None else Path("c4.toml")
    if str(path) == "-":
        sys.stdout.write(text)
        return
    if path.exists() and not force:
        err_console.print(f"[bold red]error:[/] {path} exists; use --force to overwrite")
        raise typer.Exit(2)
    path.write_text(text)
    out_console.print(f"wrote {path}")


@config_app.command("show")
def config_show(config: str | None = _CONFIG_OPT,
                overrides: list[str] | None = _SET_OPT) -> None:
    """Validate a config and print it with every default filled in."""
    with _user_errors():
        cfg = _load(config, overrides)
    sys.stdout.write(cfg.to_toml())


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to the top-level ``c4`` app."""
    commands: dict[str, Callable[..., None]] = {
        "correlate": correlate_command, "stack": stack_command,
        "export": export_command, "demo": demo_command,
    }
    for name, fn in commands.items():
        app.command(name)(fn)
    app.add_typer(config_app, name="config")
