"""Relative seismic velocity changes (dv/v) from moving-window stacks of daily correlations.

One module per method, each a thin layer over a Rust kernel (:mod:`c4._kernels`):

- :mod:`c4.dvv.stretching`: stretching (Sens-Schönfelder & Wegler 2006), error after Weaver
  et al. (2011);
- :mod:`c4.dvv.mwcs`: moving-window cross-spectrum (Clarke et al. 2011), dv/v = −dt/t;

and around them :mod:`c4.dvv.lagwindow` (which lags are measured), :mod:`c4.dvv.measure` (band,
windows, method, masks in one call), :mod:`c4.dvv.network` (error-weighted network means),
:mod:`c4.dvv.product` (``c4 dvv``: a results store in, a Zarr product out),
:mod:`c4.dvv.figure` (``c4 plot dvv``) and :mod:`c4.dvv.config` (the ``[dvv]`` section).

The method functions live in their modules (``from c4.dvv.stretching import stretching``,
``from c4.dvv.measure import measure``); importing ``c4.dvv`` (as ``c4.config`` does) needs
only numpy.

Sign convention: **dv/v > 0 is a faster medium** (arrivals earlier than in the reference);
``dt/t = −dv/v``. Values are fractions (0.01 = 1 %).
"""

from c4.dvv.lagwindow import LagWindow, fold, lag_ranges, segments
from c4.dvv.network import NetworkMean, network_mean

__all__ = ["LagWindow", "NetworkMean", "fold", "lag_ranges", "network_mean", "segments"]
