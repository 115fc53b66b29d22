//! Stretching (Sens-Schönfelder & Wegler 2006): the trial stretch of the reference that best
//! correlates with the current trace.
//!
//! For trial `ε` the reference is resampled as `r(t (1 + ε))` (cubic convolution, about lag
//! zero) on the pair's lag ranges, and compared with the current trace there by the Pearson
//! correlation coefficient. A velocity change `dv/v` turns an arrival at lag `t` into one at
//! `t / (1 + dv/v)`, so the current trace is `r(t (1 + dv/v))` and the best `ε` is `dv/v`.
//! The grid `ε_k = −max + 2 max k / (n − 1)` is searched first; the best point is refined by
//! golden-section search between its neighbours until the bracket is below `tolerance`.

use super::interp::stretched;
use super::{check_traces, Segments};
use crate::error::{ensure, Result};
use rayon::prelude::*;

/// Settings of the search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StretchParams {
    /// Largest |ε| tried (fraction, e.g. 0.02 for 2 %).
    pub max_stretch: f64,
    /// Grid points over `[−max_stretch, max_stretch]` (at least 3).
    pub n_grid: usize,
    /// Width of the refined bracket at which the search stops (fraction).
    pub tolerance: f64,
}

impl StretchParams {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        ensure(
            self.max_stretch > 0.0 && self.max_stretch < 0.5,
            "max_stretch",
            || format!("must lie in (0, 0.5), got {}", self.max_stretch),
        )?;
        ensure(self.n_grid >= 3, "n_grid", || {
            format!("must be at least 3, got {}", self.n_grid)
        })?;
        ensure(self.tolerance > 0.0, "tolerance", || {
            format!("must be positive, got {}", self.tolerance)
        })
    }

    /// The grid of trial stretches.
    pub fn grid(&self) -> Vec<f64> {
        let n = self.n_grid;
        (0..n)
            .map(|k| -self.max_stretch + 2.0 * self.max_stretch * k as f64 / (n - 1) as f64)
            .collect()
    }
}

/// Best stretch and its correlation coefficient per `(pair, time)`; NaN where the pair has
/// no lag range, or the reference or current trace is flat there.
#[derive(Debug, Clone)]
pub struct Stretch {
    pub stretch: Vec<f64>,
    pub cc: Vec<f64>,
}

/// Remove the mean and scale to unit norm; false (and zeros) for a flat vector.
fn standardize(v: &mut [f64]) -> bool {
    let mut lanes = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..8 {
            lanes[k] += c[k];
        }
    }
    let mean = (lanes.iter().sum::<f64>() + tail) / v.len() as f64;
    v.iter_mut().for_each(|x| *x -= mean);
    let norm = dot(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
        true
    } else {
        v.fill(0.0);
        false
    }
}

/// `Σ a b` in eight independent lanes (so the compiler can vectorise it), then the tail.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// One pair's data: its reference, lag indices, and current traces.
struct PairData<'a> {
    reference: &'a [f32],
    zero: usize,
    indices: Vec<usize>,
}

impl PairData<'_> {
    /// Standardised current trace `t` on the pair's indices.
    fn current(&self, trace: &[f32]) -> Option<Vec<f64>> {
        let mut u: Vec<f64> = self.indices.iter().map(|&i| f64::from(trace[i])).collect();
        standardize(&mut u).then_some(u)
    }

    /// Standardised stretched reference for trial `eps` (zeros when flat).
    fn trial(&self, eps: f64) -> Vec<f64> {
        let mut s = vec![0.0; self.indices.len()];
        stretched(self.reference, self.zero, eps, &self.indices, &mut s);
        standardize(&mut s);
        s
    }
}

/// Correlation coefficient of every trial stretch in `trials` with every current trace:
/// `(pair, time, trial)`; NaN where undefined (see [`Stretch`]).
#[allow(clippy::too_many_arguments)]
pub fn stretch_cc(
    reference: &[f32],
    current: &[f32],
    n_pairs: usize,
    n_times: usize,
    n_lags: usize,
    zero: usize,
    segments: Segments<'_>,
    trials: &[f64],
) -> Result<Vec<f64>> {
    check_traces(reference, current, n_pairs, n_times, n_lags)?;
    segments.validate(n_pairs, n_lags)?;
    let n_trials = trials.len();
    let mut out = vec![f64::NAN; n_pairs * n_times * n_trials];
    if n_trials == 0 || n_times == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(n_times * n_trials)
        .enumerate()
        .for_each(|(p, out)| {
            let pair = pair_data(reference, n_lags, zero, segments, p);
            if pair.indices.is_empty() {
                return;
            }
            let table: Vec<Vec<f64>> = trials.iter().map(|&e| pair.trial(e)).collect();
            let traces = &current[p * n_times * n_lags..(p + 1) * n_times * n_lags];
            out.par_chunks_mut(n_trials)
                .zip(traces.par_chunks(n_lags))
                .for_each(|(o, trace)| {
                    if let Some(u) = pair.current(trace) {
                        for (v, s) in o.iter_mut().zip(&table) {
                            *v = if s.iter().any(|&x| x != 0.0) {
                                dot(s, &u)
                            } else {
                                f64::NAN
                            };
                        }
                    }
                });
        });
    Ok(out)
}

fn pair_data<'a>(
    reference: &'a [f32],
    n_lags: usize,
    zero: usize,
    segments: Segments<'_>,
    p: usize,
) -> PairData<'a> {
    PairData {
        reference: &reference[p * n_lags..(p + 1) * n_lags],
        zero,
        indices: segments.indices(p),
    }
}

/// Golden-section search for the maximum of `f` on `[lo, hi]`; returns (argmax, max).
fn golden_max(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64, tol: f64) -> (f64, f64) {
    const INV_PHI: f64 = 0.618_033_988_749_894_8;
    let mut a = hi - INV_PHI * (hi - lo);
    let mut b = lo + INV_PHI * (hi - lo);
    let (mut fa, mut fb) = (f(a), f(b));
    while hi - lo > tol {
        if fa >= fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - INV_PHI * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + INV_PHI * (hi - lo);
            fb = f(b);
        }
    }
    if fa >= fb {
        (a, fa)
    } else {
        (b, fb)
    }
}

/// The best stretch of every current trace against its pair's reference (see the module).
///
/// `reference` is `(pair, lag)`, `current` `(pair, time, lag)`, lag zero at index `zero`.
#[allow(clippy::too_many_arguments)]
pub fn stretching(
    reference: &[f32],
    current: &[f32],
    n_pairs: usize,
    n_times: usize,
    n_lags: usize,
    zero: usize,
    segments: Segments<'_>,
    params: &StretchParams,
) -> Result<Stretch> {
    params.validate()?;
    check_traces(reference, current, n_pairs, n_times, n_lags)?;
    segments.validate(n_pairs, n_lags)?;
    let grid = params.grid();
    let mut best = vec![(f64::NAN, f64::NAN); n_pairs * n_times];
    if n_times > 0 {
        best.par_chunks_mut(n_times)
            .enumerate()
            .for_each(|(p, best)| {
                let pair = pair_data(reference, n_lags, zero, segments, p);
                if pair.indices.is_empty() {
                    return;
                }
                let table: Vec<Vec<f64>> = grid.iter().map(|&e| pair.trial(e)).collect();
                let traces = &current[p * n_times * n_lags..(p + 1) * n_times * n_lags];
                best.par_iter_mut()
                    .zip(traces.par_chunks(n_lags))
                    .for_each(|(b, trace)| {
                        if let Some(u) = pair.current(trace) {
                            *b = refine(&pair, &u, &grid, &table, params.tolerance);
                        }
                    });
            });
    }
    Ok(Stretch {
        stretch: best.iter().map(|b| b.0).collect(),
        cc: best.iter().map(|b| b.1).collect(),
    })
}

/// Grid search then golden-section refinement for one standardised current trace `u`.
fn refine(
    pair: &PairData<'_>,
    u: &[f64],
    grid: &[f64],
    table: &[Vec<f64>],
    tol: f64,
) -> (f64, f64) {
    let (k, cc) =
        table
            .iter()
            .map(|s| dot(s, u))
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |acc, (k, c)| if c > acc.1 { (k, c) } else { acc },
            );
    if !cc.is_finite() || table[k].iter().all(|&x| x == 0.0) {
        return (f64::NAN, f64::NAN);
    }
    let lo = grid[k.saturating_sub(1)];
    let hi = grid[(k + 1).min(grid.len() - 1)];
    let (eps, refined) = golden_max(|e| dot(&pair.trial(e), u), lo, hi, tol);
    if refined >= cc {
        (eps, refined)
    } else {
        (grid[k], cc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decaying band-limited trace, exactly evaluable at any lag `t` (samples).
    fn coda(t: f64) -> f64 {
        let parts = [(0.31, 0.2), (0.22, 1.3), (0.17, 2.1), (0.41, 0.7)];
        let env = (-t.abs() / 120.0).exp();
        env * parts.iter().map(|(w, ph)| (w * t + ph).cos()).sum::<f64>()
    }

    fn traces(eps: &[f64], n_lags: usize) -> (Vec<f32>, Vec<f32>, usize) {
        let zero = n_lags / 2;
        let at = |e: f64| -> Vec<f32> {
            (0..n_lags)
                .map(|i| coda((i as f64 - zero as f64) * (1.0 + e)) as f32)
                .collect()
        };
        let reference = at(0.0);
        let current = eps.iter().flat_map(|&e| at(e)).collect();
        (reference, current, zero)
    }

    #[test]
    fn recovers_known_stretches_on_both_branches() {
        let truth = [-0.012, -0.003, 0.0, 0.0047, 0.015];
        let n_lags = 801;
        let (reference, current, zero) = traces(&truth, n_lags);
        let ranges = [zero - 350, zero - 50, zero + 50, zero + 350];
        let seg = Segments {
            ranges: &ranges,
            n_seg: 2,
        };
        let params = StretchParams {
            max_stretch: 0.02,
            n_grid: 41,
            tolerance: 1e-7,
        };
        let out = stretching(
            &reference,
            &current,
            1,
            truth.len(),
            n_lags,
            zero,
            seg,
            &params,
        )
        .unwrap();
        for (k, &e) in truth.iter().enumerate() {
            assert!(
                (out.stretch[k] - e).abs() < 2e-5,
                "{} vs {e}",
                out.stretch[k]
            );
            assert!(out.cc[k] > 0.999, "cc {}", out.cc[k]);
        }
    }

    #[test]
    fn cc_of_trials_peaks_at_the_truth_and_empty_pairs_are_nan() {
        let n_lags = 401;
        let (reference, current, zero) = traces(&[0.01], n_lags);
        let mut two_ref = reference.clone();
        two_ref.extend(&reference);
        let mut two_cur = current.clone();
        two_cur.extend(&current);
        // Pair 0 measures [zero+20, zero+180); pair 1 has no range.
        let ranges = [zero + 20, zero + 180, 0, 0];
        let seg = Segments {
            ranges: &ranges,
            n_seg: 1,
        };
        let trials = [0.0, 0.005, 0.01, 0.015];
        let cc = stretch_cc(&two_ref, &two_cur, 2, 1, n_lags, zero, seg, &trials).unwrap();
        assert!((cc[2] - 1.0).abs() < 1e-5);
        assert!(cc[2] > cc[1] && cc[1] > cc[0] && cc[2] > cc[3]);
        assert!(cc[4..].iter().all(|c| c.is_nan()));
    }

    #[test]
    fn rejects_bad_settings_and_shapes() {
        let seg = Segments {
            ranges: &[0, 2],
            n_seg: 1,
        };
        let bad = StretchParams {
            max_stretch: 0.0,
            n_grid: 5,
            tolerance: 1e-6,
        };
        let err = stretching(&[0.0; 4], &[0.0; 4], 1, 1, 4, 2, seg, &bad).unwrap_err();
        assert!(err.to_string().starts_with("max_stretch"));
        let ok = StretchParams {
            max_stretch: 0.01,
            ..bad
        };
        let err = stretching(&[0.0; 4], &[0.0; 3], 1, 1, 4, 2, seg, &ok).unwrap_err();
        assert!(err.to_string().starts_with("current"));
        let far = Segments {
            ranges: &[0, 9],
            n_seg: 1,
        };
        let err = stretching(&[0.0; 4], &[0.0; 4], 1, 1, 4, 2, far, &ok).unwrap_err();
        assert!(err.to_string().starts_with("segments"));
    }
}
