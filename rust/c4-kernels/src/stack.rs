//! Stacking correlations along a time axis: step 6 of a shard.
//!
//! Input is `(pair, time, lag)`; each pair's `time x lag` block is stacked independently.

use crate::error::{ensure, Result};
use crate::fft;
use num_complex::Complex32;
use rayon::prelude::*;

/// A stack method and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StackMethod {
    /// Mean over time.
    Linear,
    /// Phase-weighted stack (Schimmel & Paulssen 1997): the linear stack times
    /// `|mean_t exp(i φ_t)|^power`, `φ_t` the instantaneous phase of trace `t`.
    Pws { power: f32 },
    /// Robust stack (Pavlis & Vernon 2010): iteratively re-weighted mean, starting from the
    /// median, with weights `|d·ŝ| / (|d| |d - (d·ŝ)ŝ|)`; stops when the L1 change divided by
    /// (L2 norm of the stack times the number of lags) falls below `epsilon`, or after
    /// `max_iter` iterations.
    Robust { epsilon: f32, max_iter: usize },
    /// N-th root stack: `sign(y)|y|^n` with `y = mean_t sign(x)|x|^(1/n)`.
    Nroot { n: f32 },
    /// Time-frequency phase-weighted stack (Schimmel & Gallart 2007, S-transform; see
    /// [`crate::tfpws`]) with exponent `power` over `fmin..=fmax` cycles per sample.
    Tfpws { power: f32, fmin: f32, fmax: f32 },
    /// Selective stack (NoisePy's `selective`): the mean of the traces whose correlation
    /// coefficient `x·s / (|x| |s|)` with the linear stack `s` is at least `threshold`; weights
    /// `1 / kept` for those, 0 for the others; all zeros if none is kept.
    Selective { threshold: f32 },
}

impl StackMethod {
    /// Check the parameters.
    pub fn validate(&self) -> Result<()> {
        match *self {
            StackMethod::Linear => Ok(()),
            StackMethod::Pws { power } => {
                ensure(power >= 0.0 && power.is_finite(), "pws_power", || {
                    format!("must be finite and >= 0, got {power}")
                })
            }
            StackMethod::Robust { epsilon, max_iter } => {
                ensure(epsilon > 0.0, "robust_epsilon", || {
                    format!("must be positive, got {epsilon}")
                })?;
                ensure(max_iter >= 1, "robust_max_iter", || {
                    "must be at least 1".into()
                })
            }
            StackMethod::Nroot { n } => ensure(n >= 1.0 && n.is_finite(), "nroot_power", || {
                format!("must be finite and >= 1, got {n}")
            }),
            StackMethod::Tfpws { power, fmin, fmax } => {
                ensure(power >= 0.0 && power.is_finite(), "pws_power", || {
                    format!("must be finite and >= 0, got {power}")
                })?;
                ensure(
                    (0.0..=0.5).contains(&fmin) && fmin <= fmax && fmax <= 0.5,
                    "tfpws_band",
                    || format!("{fmin}..{fmax} cycles/sample must lie in 0..0.5"),
                )
            }
            StackMethod::Selective { threshold } => ensure(
                (-1.0..=1.0).contains(&threshold),
                "selective_threshold",
                || format!("a correlation coefficient must lie in [-1, 1], got {threshold}"),
            ),
        }
    }
}

/// Stacks of every pair, `(pair, lag)`, and the weight each trace received, `(pair, time)`.
#[derive(Debug, Clone)]
pub struct Stacked {
    pub data: Vec<f32>,
    /// Robust weights (summing to 1 per pair); selective: `1 / kept` or 0; `1 / n_time` for
    /// the other methods.
    pub weights: Vec<f32>,
}

/// Stack `x` of shape `(n_pairs, n_time, n_lags)` along time.
pub fn stack(
    x: &[f32],
    n_pairs: usize,
    n_time: usize,
    n_lags: usize,
    method: StackMethod,
) -> Result<Stacked> {
    method.validate()?;
    ensure(n_time >= 1 && n_lags >= 1, "x", || {
        "needs at least one trace of one lag".into()
    })?;
    ensure(x.len() == n_pairs * n_time * n_lags, "x", || {
        format!(
            "holds {} values, expected {n_pairs} x {n_time} x {n_lags}",
            x.len()
        )
    })?;
    let mut data = vec![0.0f32; n_pairs * n_lags];
    let mut weights = vec![1.0 / n_time as f32; n_pairs * n_time];
    data.par_chunks_mut(n_lags)
        .zip(weights.par_chunks_mut(n_time))
        .zip(x.par_chunks(n_time * n_lags))
        .for_each(|((out, w), traces)| stack_one(traces, n_lags, method, out, w));
    Ok(Stacked { data, weights })
}

/// Stack pairs with different numbers of traces: pair `p` holds the traces
/// `offsets[p]..offsets[p + 1]` of `x`, shape `(n_traces, n_lags)` (its days with data, in
/// order). Returns `(pair, lag)` stacks (zeros for a pair without traces) and each trace's
/// weight, `(n_traces,)` in the order of `x`. Equal, pair by pair, to [`stack`] of that
/// pair's traces; the pairs run in parallel.
pub fn stack_ragged(
    x: &[f32],
    offsets: &[usize],
    n_lags: usize,
    method: StackMethod,
) -> Result<Stacked> {
    method.validate()?;
    ensure(n_lags >= 1, "x", || "needs at least one lag".into())?;
    ensure(
        offsets.first() == Some(&0) && offsets.windows(2).all(|w| w[0] <= w[1]),
        "offsets",
        || "must start at 0 and never decrease".into(),
    )?;
    let n_traces = *offsets.last().unwrap_or(&0);
    ensure(x.len() == n_traces * n_lags, "x", || {
        format!(
            "holds {} values, expected {n_traces} traces x {n_lags} lags (offsets)",
            x.len()
        )
    })?;
    let n_pairs = offsets.len() - 1;
    let mut data = vec![0.0f32; n_pairs * n_lags];
    let mut weights = vec![0.0f32; n_traces];
    let mut parts: Vec<(&mut [f32], &[f32])> = Vec::with_capacity(n_pairs);
    let mut rest = weights.as_mut_slice();
    for w in offsets.windows(2) {
        let (mine, tail) = rest.split_at_mut(w[1] - w[0]);
        parts.push((mine, &x[w[0] * n_lags..w[1] * n_lags]));
        rest = tail;
    }
    data.par_chunks_mut(n_lags)
        .zip(parts.into_par_iter())
        .for_each(|(out, (w, traces))| {
            if !w.is_empty() {
                w.fill(1.0 / w.len() as f32);
                stack_one(traces, n_lags, method, out, w);
            }
        });
    Ok(Stacked { data, weights })
}

/// Stack one pair's `(time, lag)` traces into `out`; `w` (per trace) starts at `1 / n_time`.
fn stack_one(traces: &[f32], n_lags: usize, method: StackMethod, out: &mut [f32], w: &mut [f32]) {
    match method {
        StackMethod::Linear => linear(traces, n_lags, out),
        StackMethod::Pws { power } => pws(traces, n_lags, power, out),
        StackMethod::Robust { epsilon, max_iter } => {
            robust(traces, n_lags, epsilon, max_iter, out, w)
        }
        StackMethod::Nroot { n } => nroot(traces, n_lags, n, out),
        StackMethod::Tfpws { power, fmin, fmax } => {
            crate::tfpws::tfpws(traces, n_lags, power, fmin, fmax, out)
        }
        StackMethod::Selective { threshold } => selective(traces, n_lags, threshold, out, w),
    }
}

/// Sum of the unit phasors `exp(i φ_t)` over time for each pair: `(pair, lag)` complex.
pub fn phase_sum(
    x: &[f32],
    n_pairs: usize,
    n_time: usize,
    n_lags: usize,
) -> Result<Vec<Complex32>> {
    ensure(
        n_lags >= 1 && x.len() == n_pairs * n_time * n_lags,
        "x",
        || {
            format!(
                "holds {} values, expected {n_pairs} x {n_time} x {n_lags}",
                x.len()
            )
        },
    )?;
    let mut out = fft::zeros(n_pairs * n_lags);
    if n_time > 0 {
        out.par_chunks_mut(n_lags)
            .zip(x.par_chunks(n_time * n_lags))
            .for_each(|(out, traces)| add_phasors(traces, n_lags, out));
    }
    Ok(out)
}

fn linear(traces: &[f32], n_lags: usize, out: &mut [f32]) {
    let n_time = traces.len() / n_lags;
    out.fill(0.0);
    for t in traces.chunks(n_lags) {
        for (o, v) in out.iter_mut().zip(t) {
            *o += v;
        }
    }
    for o in out.iter_mut() {
        *o /= n_time as f32;
    }
}

/// Analytic signal of `x` (as `scipy.signal.hilbert`): FFT, zero the negative frequencies,
/// double the positive ones, inverse FFT.
pub fn analytic(x: &[f32]) -> Vec<Complex32> {
    let n = x.len();
    let mut buf: Vec<Complex32> = x.iter().map(|&v| Complex32::new(v, 0.0)).collect();
    fft::complex(n, false).process(&mut buf);
    for (k, v) in buf.iter_mut().enumerate() {
        let h = if k == 0 || (n.is_multiple_of(2) && k == n / 2) {
            1.0
        } else if k < n.div_ceil(2) {
            2.0
        } else {
            0.0
        };
        *v *= h / n as f32;
    }
    fft::complex(n, true).process(&mut buf);
    buf
}

fn add_phasors(traces: &[f32], n_lags: usize, out: &mut [Complex32]) {
    for t in traces.chunks(n_lags) {
        for (o, a) in out.iter_mut().zip(analytic(t)) {
            let m = a.norm_sqr().sqrt();
            if m > 0.0 {
                *o += a / m;
            }
        }
    }
}

fn pws(traces: &[f32], n_lags: usize, power: f32, out: &mut [f32]) {
    let n_time = traces.len() / n_lags;
    linear(traces, n_lags, out);
    let mut phasors = fft::zeros(n_lags);
    add_phasors(traces, n_lags, &mut phasors);
    for (o, p) in out.iter_mut().zip(&phasors) {
        *o *= (p.norm() / n_time as f32).powf(power);
    }
}

fn nroot(traces: &[f32], n_lags: usize, n: f32, out: &mut [f32]) {
    let n_time = traces.len() / n_lags;
    out.fill(0.0);
    for t in traces.chunks(n_lags) {
        for (o, v) in out.iter_mut().zip(t) {
            *o += signed_pow(*v, 1.0 / n);
        }
    }
    for o in out.iter_mut() {
        let y = *o / n_time as f32;
        *o = signed_pow(y, n);
    }
}

/// `sign(v) |v|^p` for `p > 0` (0 stays 0: `|0|^p = 0`).
fn signed_pow(v: f32, p: f32) -> f32 {
    v.signum() * v.abs().powf(p)
}

fn selective(traces: &[f32], n_lags: usize, threshold: f32, out: &mut [f32], weights: &mut [f32]) {
    let mut reference = vec![0.0f32; n_lags];
    linear(traces, n_lags, &mut reference);
    let ref_norm = dot(&reference, &reference).sqrt();
    for (w, d) in weights.iter_mut().zip(traces.chunks(n_lags)) {
        let norm = dot(d, d).sqrt() * ref_norm;
        let r = if norm > 0.0 {
            dot(d, &reference) / norm
        } else {
            0.0
        };
        *w = if r >= f64::from(threshold) { 1.0 } else { 0.0 };
    }
    let kept: f32 = weights.iter().sum();
    out.fill(0.0);
    if kept == 0.0 {
        return;
    }
    for (d, w) in traces.chunks(n_lags).zip(weights.iter_mut()) {
        *w /= kept;
        for (o, v) in out.iter_mut().zip(d) {
            *o += *w * v;
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn robust(
    traces: &[f32],
    n_lags: usize,
    epsilon: f32,
    max_iter: usize,
    out: &mut [f32],
    weights: &mut [f32],
) {
    let n_time = traces.len() / n_lags;
    // Start from the sample-wise median.
    let mut column = vec![0.0f32; n_time];
    for (l, o) in out.iter_mut().enumerate() {
        for (t, c) in column.iter_mut().enumerate() {
            *c = traces[t * n_lags + l];
        }
        column.sort_unstable_by(f32::total_cmp);
        *o = if n_time % 2 == 1 {
            column[n_time / 2]
        } else {
            0.5 * (column[n_time / 2 - 1] + column[n_time / 2])
        };
    }
    let norms: Vec<f64> = traces.chunks(n_lags).map(|d| dot(d, d).sqrt()).collect();
    let mut next = vec![0.0f32; n_lags];
    for _ in 0..max_iter {
        let s_norm = dot(out, out).sqrt();
        if s_norm == 0.0 {
            break;
        }
        for ((w, d), &dn) in weights.iter_mut().zip(traces.chunks(n_lags)).zip(&norms) {
            if dn == 0.0 {
                *w = 0.0;
                continue;
            }
            let c = dot(d, out) / s_norm;
            let r2 = (dn * dn - c * c).max(0.0);
            let r = r2.sqrt().max(1e-6 * dn);
            *w = (c.abs() / (dn * r)) as f32;
        }
        let total: f32 = weights.iter().sum();
        if total > 0.0 {
            weights.iter_mut().for_each(|w| *w /= total);
        } else {
            weights.fill(1.0 / n_time as f32);
        }
        next.fill(0.0);
        for (d, &w) in traces.chunks(n_lags).zip(weights.iter()) {
            for (n, v) in next.iter_mut().zip(d) {
                *n += w * v;
            }
        }
        let change: f64 = next
            .iter()
            .zip(out.iter())
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum();
        let size = dot(&next, &next).sqrt() * n_lags as f64;
        out.copy_from_slice(&next);
        if size == 0.0 || change / size < f64::from(epsilon) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traces(n_time: usize, n_lags: usize) -> Vec<f32> {
        (0..n_time * n_lags)
            .map(|k| ((k % n_lags) as f32 * 0.3).sin() * (1.0 + (k / n_lags) as f32 * 0.1))
            .collect()
    }

    #[test]
    fn linear_is_the_mean() {
        let x = traces(3, 5);
        let s = stack(&x, 1, 3, 5, StackMethod::Linear).unwrap();
        for l in 0..5 {
            let m = (x[l] + x[5 + l] + x[10 + l]) / 3.0;
            assert!((s.data[l] - m).abs() < 1e-6);
        }
    }

    #[test]
    fn identical_traces_are_returned_by_every_method() {
        let one: Vec<f32> = (0..33).map(|k| (k as f32 * 0.4).cos()).collect();
        let x: Vec<f32> = one.iter().cycle().take(4 * 33).copied().collect();
        for m in [
            StackMethod::Linear,
            StackMethod::Pws { power: 2.0 },
            StackMethod::Robust {
                epsilon: 1e-6,
                max_iter: 10,
            },
            StackMethod::Nroot { n: 2.0 },
            StackMethod::Selective { threshold: 0.5 },
        ] {
            let s = stack(&x, 1, 4, 33, m).unwrap();
            for (a, b) in s.data.iter().zip(&one) {
                assert!((a - b).abs() < 1e-4, "{m:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn analytic_signal_of_cosine_has_unit_magnitude() {
        let n = 64;
        let x: Vec<f32> = (0..n)
            .map(|k| (2.0 * std::f32::consts::PI * 4.0 * k as f32 / n as f32).cos())
            .collect();
        for a in analytic(&x) {
            assert!((a.norm() - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn ragged_pairs_equal_their_own_stacks() {
        let n_lags = 17;
        let counts = [3usize, 0, 1, 5];
        let mut offsets = vec![0usize];
        for c in counts {
            offsets.push(offsets.last().unwrap() + c);
        }
        let x = traces(offsets[4], n_lags);
        for m in [
            StackMethod::Linear,
            StackMethod::Pws { power: 2.0 },
            StackMethod::Robust {
                epsilon: 1e-6,
                max_iter: 10,
            },
            StackMethod::Selective { threshold: 0.2 },
        ] {
            let r = stack_ragged(&x, &offsets, n_lags, m).unwrap();
            for (p, w) in offsets.windows(2).enumerate() {
                let got = &r.data[p * n_lags..(p + 1) * n_lags];
                if w[0] == w[1] {
                    assert!(got.iter().all(|&v| v == 0.0));
                    continue;
                }
                let one = stack(&x[w[0] * n_lags..w[1] * n_lags], 1, w[1] - w[0], n_lags, m);
                let one = one.unwrap();
                assert_eq!(got, one.data.as_slice(), "{m:?} pair {p}");
                assert_eq!(
                    &r.weights[w[0]..w[1]],
                    one.weights.as_slice(),
                    "{m:?} pair {p}"
                );
            }
        }
    }

    #[test]
    fn ragged_rejects_bad_offsets() {
        let x = [0.0f32; 6];
        let err = stack_ragged(&x, &[0, 2, 1], 2, StackMethod::Linear).unwrap_err();
        assert!(err.to_string().starts_with("offsets"));
        let err = stack_ragged(&x, &[0, 2], 2, StackMethod::Linear).unwrap_err();
        assert!(err.to_string().starts_with("x"));
    }

    #[test]
    fn rejects_bad_parameters() {
        let err = stack(&[0.0; 4], 1, 2, 2, StackMethod::Nroot { n: 0.5 }).unwrap_err();
        assert!(err.to_string().starts_with("nroot_power"));
    }
}
