"""c4: ambient seismic noise cross-correlation for whole networks, locally or on AWS Batch.

``c4.open_results`` and ``c4.select`` (from :mod:`c4.results`) are imported on first use, so
that ``import c4.kernels`` stays light: it needs only numpy and the compiled kernels.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from c4.results import open_results, select

try:
    __version__ = version("c4")
except PackageNotFoundError:  # running from a source tree without installation
    from c4._kernels import __version__

__all__ = ["__version__", "open_results", "select"]


def __getattr__(name: str) -> Any:
    if name in ("open_results", "select"):
        from c4 import results

        return getattr(results, name)
    raise AttributeError(f"module 'c4' has no attribute {name!r}")
