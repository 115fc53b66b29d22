"""c4: ambient seismic noise cross-correlation for whole networks, locally or on AWS Batch.

``c4.open_results`` (from :mod:`c4.store`) is imported on first use, so that ``import
c4.kernels`` stays light: it needs only numpy and the compiled kernels.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from c4.store import open_results

try:
    __version__ = version("c4")
except PackageNotFoundError:  # running from a source tree without installation
    from c4._kernels import __version__

__all__ = ["__version__", "open_results"]


def __getattr__(name: str) -> Any:
    if name == "open_results":
        from c4.store import open_results

        return open_results
    raise AttributeError(f"module 'c4' has no attribute {name!r}")
