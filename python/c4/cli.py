"""The ``c4`` command line: one Typer app, each command group in the module that holds its logic.

:func:`main` (the console script) installs the SIGINT/SIGTERM handlers (:mod:`c4.interrupts`)
and turns anticipated failures into one line and a hint with the documented exit code
(:mod:`c4.failures`); the traceback is printed only with ``-v``.
"""

from __future__ import annotations

import logging
import sys
import traceback

import typer
from rich.console import Console

import c4

app = typer.Typer(
    name="c4",
    help="Ambient seismic noise cross-correlation for whole networks, locally or on AWS Batch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
_state = {"verbose": False}


def _show_version(value: bool) -> None:
    if value:
        console.print(f"c4 {c4.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings and errors only."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Set up logging once for every command."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    from c4 import redact
    from c4.progress import configure_logging, set_verbosity

    _state["verbose"] = verbose
    # Plain lines at a terminal, JSON lines (like the progress events) in Batch/CloudWatch;
    # Python warnings (obspy's among them) go through logging too, so they never break a JSON
    # line, and no credential reaches a log line (botocore's debug log holds them).
    configure_logging(quiet=level == logging.WARNING, verbose=level == logging.DEBUG)
    logging.captureWarnings(True)
    from c4.failures import log_unraisable

    sys.unraisablehook = log_unraisable
    redact.install()
    set_verbosity(quiet=quiet and not verbose, verbose=verbose)


@app.command("version")
def version_command() -> None:
    """Print the c4 version and the kernel thread count."""
    from c4 import _kernels

    console.print(f"c4 {c4.__version__} (kernels {_kernels.__version__}, "
                  f"{_kernels.default_threads()} threads)")


from c4.plot import app as _plot_app  # noqa: E402  (command groups are composed here)

app.add_typer(_plot_app, name="plot")

from c4.batch.cli import register as _register_batch  # noqa: E402  (submit, status, local, iam)

_register_batch(app)


from c4.pipeline_cli import register as _register_pipeline  # noqa: E402  (correlate, stack, ...)

_register_pipeline(app)

from c4.report import register as _register_report  # noqa: E402  (report)

_register_report(app)

from c4.dvv.cli import register as _register_dvv  # noqa: E402  (dvv, plot dvv)

_register_dvv(app, _plot_app)


def main() -> None:
    """Entry point of the ``c4`` console script (exit codes: :mod:`c4.failures`)."""
    from c4 import interrupts

    interrupts.install()
    try:
        app()
    except SystemExit:
        raise
    except BaseException as exc:
        from c4.failures import emit, explain

        failure = explain(exc)
        if failure is None:
            raise
        if failure.exit_code > 128:  # stopping: a second Ctrl-C must not break the last line
            interrupts.ignore()
        if _state["verbose"]:
            from c4.redact import redact

            sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        emit(failure)
        if failure.exit_code > 128:
            # interrupted: leave now, without joining threads still finishing a transfer or
            # a kernel call (Batch sends SIGKILL 30 s after SIGTERM); everything that should
            # survive is written, and nothing partial is marked complete
            import os

            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(failure.exit_code)
        sys.exit(failure.exit_code)
