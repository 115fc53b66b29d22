//! Relative velocity changes (dv/v) between a reference correlation and current ones.
//!
//! Both methods compare, for every pair, one reference trace `(lag)` with many current traces
//! `(time, lag)` on chosen lag ranges, and run in parallel over pairs and times:
//!
//! - [`stretching`]: the reference stretched in time, `r(t (1 + ε))`, is correlated with the
//!   current trace for every trial `ε` of a grid; the best trial is refined by golden-section
//!   search (Sens-Schönfelder & Wegler 2006). A homogeneous change gives `ε = dv/v`.
//! - [`mwcs`]: the moving-window cross-spectrum (Clarke et al. 2011) measures the delay `δt` of
//!   the current trace in short windows from the slope of the cross-spectral phase; the
//!   regression of `δt` against the window's lag (`dt/t = −dv/v`) is left to the caller.
//!
//! Lags are sample indices: lag `t` (in samples) sits at index `zero + t`; traces are zero
//! outside their length.

pub mod interp;
pub mod mwcs;
pub mod stretching;

use crate::error::{ensure, Result};

/// Lag-index ranges `[start, stop)` measured on each pair: `n_seg` ranges per pair, flat
/// `(pair, segment, 2)`; an empty range (`start >= stop`) is unused.
#[derive(Debug, Clone, Copy)]
pub struct Segments<'a> {
    pub ranges: &'a [usize],
    pub n_seg: usize,
}

impl Segments<'_> {
    /// Check the shape against `n_pairs` and every range against `n_lags`.
    pub fn validate(&self, n_pairs: usize, n_lags: usize) -> Result<()> {
        ensure(
            self.ranges.len() == n_pairs * self.n_seg * 2,
            "segments",
            || {
                format!(
                    "holds {} values, expected {n_pairs} x {} x 2",
                    self.ranges.len(),
                    self.n_seg
                )
            },
        )?;
        ensure(
            self.ranges
                .chunks(2)
                .all(|r| r[0] >= r[1] || r[1] <= n_lags),
            "segments",
            || format!("ranges must end at or before the {n_lags} lags"),
        )
    }

    /// The lag indices of pair `p`, range after range.
    pub fn indices(&self, p: usize) -> Vec<usize> {
        let own = &self.ranges[p * self.n_seg * 2..(p + 1) * self.n_seg * 2];
        own.chunks(2)
            .filter(|r| r[0] < r[1])
            .flat_map(|r| r[0]..r[1])
            .collect()
    }
}

/// Check the shapes of a `(pair, lag)` reference and a `(pair, time, lag)` current array.
pub(crate) fn check_traces(
    reference: &[f32],
    current: &[f32],
    n_pairs: usize,
    n_times: usize,
    n_lags: usize,
) -> Result<()> {
    ensure(n_lags >= 2, "reference", || {
        "needs at least two lags".into()
    })?;
    ensure(reference.len() == n_pairs * n_lags, "reference", || {
        format!(
            "holds {} values, expected {n_pairs} x {n_lags}",
            reference.len()
        )
    })?;
    ensure(
        current.len() == n_pairs * n_times * n_lags,
        "current",
        || {
            format!(
                "holds {} values, expected {n_pairs} x {n_times} x {n_lags}",
                current.len()
            )
        },
    )
}
