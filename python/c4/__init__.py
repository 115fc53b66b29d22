"""c4: ambient seismic noise cross-correlation for whole networks, locally or on AWS Batch."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("c4")
except PackageNotFoundError:  # running from a source tree without installation
    from c4._kernels import __version__

from c4.store import open_results

__all__ = ["__version__", "open_results"]
