//! Moving-window cross-spectral delays (MWCS; Clarke et al. 2011).
//!
//! For every window `[s, s + win)` of a pair and every current trace, the reference `r` and
//! current `c` segments are demeaned, Hann-tapered (`0.5 − 0.5 cos(2π j / (win − 1))`),
//! zero-padded to `nfft` and transformed (`R`, `C`). The cross-spectrum `X = R conj(C)` and the
//! power spectra `|R|²`, `|C|²` are smoothed over `2h + 1` bins with weights
//! `sin²(π (k + 1) / (2h + 2))` (renormalised where the kernel leaves the spectrum). On the band
//! bins `j` the coherence is `c_j = |<X>| / sqrt(<|R|²> <|C|²>)` and the phase
//! `φ_j = arg <X>` (unwrapped from the lowest band bin, as `numpy.unwrap`). A current trace
//! delayed by `δt` (`c(t) = r(t − δt)`) has `φ_j = ω_j δt`, `ω_j = 2π j fs / nfft`, so `δt` is the
//! weighted least-squares slope through the origin,
//! `δt = Σ w ω φ / Σ w ω²`, with weights from the coherence, `w_j = c_j² / (1 − c_j²)`
//! (`c_j` capped at [`MAX_COHERENCE`]: the inverse of the phase variance the coherence implies).
//! Its error follows Clarke et al. (2011): `e² = σ² Σ w² ω² / (Σ w ω²)²` with the phase misfit
//! `σ² = Σ (φ − ω δt)² / (N − 1)` over the `N` band bins.

use super::check_traces;
use crate::error::{ensure, Result};
use crate::fft;
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Coherence at which the weights stop growing.
pub const MAX_COHERENCE: f64 = 0.99;

/// Settings of the measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MwcsParams {
    /// Samples per window (at least 4).
    pub win: usize,
    /// FFT length (at least `win`).
    pub nfft: usize,
    /// First and last band bin of the regression (inclusive, `1 <= lo < hi <= nfft / 2`).
    pub bin_lo: usize,
    pub bin_hi: usize,
    /// Half-width `h` of the spectral smoothing, bins (at least 1).
    pub smooth_half: usize,
    /// Sampling rate in Hz (delays come out in seconds).
    pub fs: f64,
}

impl MwcsParams {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        ensure(self.win >= 4, "win", || {
            format!("must be at least 4 samples, got {}", self.win)
        })?;
        ensure(self.nfft >= self.win, "nfft", || {
            format!(
                "must be at least the window ({}), got {}",
                self.win, self.nfft
            )
        })?;
        ensure(
            self.bin_lo >= 1 && self.bin_lo < self.bin_hi && self.bin_hi <= self.nfft / 2,
            "band",
            || {
                format!(
                    "bins {}..={} must satisfy 1 <= lo < hi <= nfft/2 = {}",
                    self.bin_lo,
                    self.bin_hi,
                    self.nfft / 2
                )
            },
        )?;
        ensure(self.smooth_half >= 1, "smooth_half", || {
            "must be at least 1 bin (coherence needs averaging)".into()
        })?;
        ensure(self.fs > 0.0 && self.fs.is_finite(), "fs", || {
            format!("must be positive, got {}", self.fs)
        })
    }
}

/// Delay (s), its error (s) and the mean band coherence per `(pair, time, window)`; NaN for
/// unused windows and flat segments.
#[derive(Debug, Clone)]
pub struct Delays {
    pub dt: Vec<f64>,
    pub err: Vec<f64>,
    pub coherence: Vec<f64>,
}

/// Tapered, padded spectrum of `x[s..s + win]`; None when the segment is flat.
fn spectrum(x: &[f32], s: usize, taper: &[f32], nfft: usize) -> Option<Vec<Complex32>> {
    let seg = &x[s..s + taper.len()];
    let mean = seg.iter().map(|&v| f64::from(v)).sum::<f64>() / seg.len() as f64;
    let mut buf = vec![0.0f32; nfft];
    for ((b, &v), &w) in buf.iter_mut().zip(seg).zip(taper) {
        *b = ((f64::from(v) - mean) as f32) * w;
    }
    if buf.iter().all(|&v| v == 0.0) {
        return None;
    }
    let mut out = fft::zeros(nfft / 2 + 1);
    fft::forward(nfft)
        .process(&mut buf, &mut out)
        .expect("FFT buffers have the planned lengths");
    Some(out)
}

/// `numpy.unwrap` of `phase` in place (period 2π): each jump of the raw phase by π or more
/// is replaced by its equivalent in `[−π, π]`.
fn unwrap(phase: &mut [f64]) {
    let mut correction = 0.0;
    let mut previous = match phase.first() {
        Some(&p) => p,
        None => return,
    };
    for p in phase.iter_mut().skip(1) {
        let jump = *p - previous;
        previous = *p;
        if jump.abs() >= PI {
            let mut wrapped = (jump + PI).rem_euclid(2.0 * PI) - PI;
            if wrapped == -PI && jump > 0.0 {
                wrapped = PI;
            }
            correction += wrapped - jump;
        }
        *p += correction;
    }
}

struct Smoother {
    weights: Vec<f64>,
    half: usize,
}

impl Smoother {
    fn new(half: usize) -> Self {
        let n = 2 * half + 1;
        let weights = (0..n)
            .map(|k| (PI * (k + 1) as f64 / (n + 1) as f64).sin().powi(2))
            .collect();
        Self { weights, half }
    }

    /// Weighted mean of `f(i)` over the kernel centred on bin `j` (bins `0..n_bins`).
    fn at<T>(&self, j: usize, n_bins: usize, f: impl Fn(usize) -> T) -> T
    where
        T: std::ops::Mul<f64, Output = T>
            + std::ops::Add<Output = T>
            + std::ops::Div<f64, Output = T>
            + Default,
    {
        let mut sum = T::default();
        let mut total = 0.0;
        for (k, &w) in self.weights.iter().enumerate() {
            let i = j as i64 + k as i64 - self.half as i64;
            if i >= 0 && (i as usize) < n_bins {
                sum = sum + f(i as usize) * w;
                total += w;
            }
        }
        sum / total
    }
}

/// Delay, error and mean coherence of one window from the two spectra.
fn delay(r: &[Complex32], c: &[Complex32], p: &MwcsParams, smooth: &Smoother) -> (f64, f64, f64) {
    let n_bins = r.len();
    let cross = |i: usize| {
        Complex64::new(f64::from(r[i].re), f64::from(r[i].im))
            * Complex64::new(f64::from(c[i].re), -f64::from(c[i].im))
    };
    let band = p.bin_lo..=p.bin_hi;
    let n = band.clone().count();
    let mut phase = Vec::with_capacity(n);
    let mut weight = Vec::with_capacity(n);
    let mut omega = Vec::with_capacity(n);
    let mut coh_sum = 0.0;
    for j in band {
        let x = smooth.at(j, n_bins, cross);
        let a = smooth.at(j, n_bins, |i| f64::from(r[i].norm_sqr()));
        let b = smooth.at(j, n_bins, |i| f64::from(c[i].norm_sqr()));
        let coh = if a > 0.0 && b > 0.0 {
            (x.norm() / (a * b).sqrt()).min(1.0)
        } else {
            0.0
        };
        coh_sum += coh;
        let capped = coh.min(MAX_COHERENCE);
        weight.push(capped * capped / (1.0 - capped * capped));
        phase.push(x.im.atan2(x.re));
        omega.push(2.0 * PI * j as f64 * p.fs / p.nfft as f64);
    }
    unwrap(&mut phase);
    let swo2: f64 = weight.iter().zip(&omega).map(|(w, o)| w * o * o).sum();
    if swo2 <= 0.0 {
        return (f64::NAN, f64::NAN, coh_sum / n as f64);
    }
    let dt = weight
        .iter()
        .zip(&omega)
        .zip(&phase)
        .map(|((w, o), f)| w * o * f)
        .sum::<f64>()
        / swo2;
    let misfit = omega
        .iter()
        .zip(&phase)
        .map(|(o, f)| (f - o * dt).powi(2))
        .sum::<f64>()
        / (n - 1) as f64;
    let sw2o2: f64 = weight
        .iter()
        .zip(&omega)
        .map(|(w, o)| (w * o).powi(2))
        .sum();
    (dt, (misfit * sw2o2).sqrt() / swo2, coh_sum / n as f64)
}

/// Delays of every current trace against its pair's reference in the windows `starts`
/// (`(pair, n_win)` start indices, −1 = unused; a window must end within the lags).
#[allow(clippy::too_many_arguments)]
pub fn mwcs(
    reference: &[f32],
    current: &[f32],
    n_pairs: usize,
    n_times: usize,
    n_lags: usize,
    starts: &[i64],
    n_win: usize,
    params: &MwcsParams,
) -> Result<Delays> {
    params.validate()?;
    check_traces(reference, current, n_pairs, n_times, n_lags)?;
    ensure(starts.len() == n_pairs * n_win, "starts", || {
        format!(
            "holds {} values, expected {n_pairs} x {n_win}",
            starts.len()
        )
    })?;
    ensure(
        starts
            .iter()
            .all(|&s| s < 0 || s as usize + params.win <= n_lags),
        "starts",
        || {
            format!(
                "windows of {} samples must end within the {n_lags} lags",
                params.win
            )
        },
    )?;
    let taper: Vec<f32> = (0..params.win)
        .map(|j| (0.5 - 0.5 * (2.0 * PI * j as f64 / (params.win - 1) as f64).cos()) as f32)
        .collect();
    let smooth = Smoother::new(params.smooth_half);
    let per_pair = n_times * n_win;
    let mut out = vec![(f64::NAN, f64::NAN, f64::NAN); n_pairs * per_pair];
    if per_pair > 0 {
        out.par_chunks_mut(per_pair)
            .enumerate()
            .for_each(|(p, out)| {
                let r = &reference[p * n_lags..(p + 1) * n_lags];
                let wins: Vec<(usize, Option<Vec<Complex32>>)> = starts[p * n_win..(p + 1) * n_win]
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| s >= 0)
                    .map(|(w, &s)| (w, spectrum(r, s as usize, &taper, params.nfft)))
                    .collect();
                let traces = &current[p * n_times * n_lags..(p + 1) * n_times * n_lags];
                out.par_chunks_mut(n_win)
                    .zip(traces.par_chunks(n_lags))
                    .for_each(|(o, trace)| {
                        for (w, rs) in &wins {
                            let s = starts[p * n_win + w] as usize;
                            if let (Some(rs), Some(cs)) =
                                (rs, spectrum(trace, s, &taper, params.nfft))
                            {
                                o[*w] = delay(rs, &cs, params, &smooth);
                            }
                        }
                    });
            });
    }
    Ok(Delays {
        dt: out.iter().map(|v| v.0).collect(),
        err: out.iter().map(|v| v.1).collect(),
        coherence: out.iter().map(|v| v.2).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Broadband in 0.05-0.64 Hz (wider than the measured band): 60 lines, scrambled phases.
    fn wave(t: f64) -> f64 {
        (0..60)
            .map(|k| {
                let f = 0.05 + 0.01 * k as f64;
                (2.0 * PI * f * t + (k * k) as f64 * 0.7).cos()
            })
            .sum()
    }

    #[test]
    fn measures_a_known_delay_with_full_coherence() {
        let fs = 10.0;
        let n_lags = 401;
        let delays = [0.0, 0.05, -0.12];
        let reference: Vec<f32> = (0..n_lags).map(|i| wave(i as f64 / fs) as f32).collect();
        let current: Vec<f32> = delays
            .iter()
            .flat_map(|d| (0..n_lags).map(move |i| wave(i as f64 / fs - d) as f32))
            .collect();
        let params = MwcsParams {
            win: 200,
            nfft: 400,
            bin_lo: 4,
            bin_hi: 16,
            smooth_half: 2,
            fs,
        };
        let starts = [50i64, -1, 180];
        let out = mwcs(&reference, &current, 1, 3, n_lags, &starts, 3, &params).unwrap();
        for (t, d) in delays.iter().enumerate() {
            for w in [0, 2] {
                let k = t * 3 + w;
                assert!((out.dt[k] - d).abs() < 2e-3, "{} vs {d}", out.dt[k]);
                assert!(out.coherence[k] > 0.98);
                assert!(out.err[k] < 5e-3);
            }
            assert!(out.dt[t * 3 + 1].is_nan());
        }
    }

    #[test]
    fn unwrap_matches_numpy_semantics() {
        let mut p = vec![3.0, -3.0, 2.9, -3.1];
        unwrap(&mut p);
        let tau = 2.0 * PI;
        let expect = [3.0, -3.0 + tau, 2.9, -3.1 + tau];
        for (a, b) in p.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
    }

    #[test]
    fn rejects_bad_settings() {
        let p = MwcsParams {
            win: 8,
            nfft: 8,
            bin_lo: 1,
            bin_hi: 3,
            smooth_half: 0,
            fs: 1.0,
        };
        let err = mwcs(&[0.0; 8], &[0.0; 8], 1, 1, 8, &[0], 1, &p).unwrap_err();
        assert!(err.to_string().starts_with("smooth_half"));
        let p = MwcsParams {
            smooth_half: 1,
            ..p
        };
        let err = mwcs(&[0.0; 8], &[0.0; 8], 1, 1, 8, &[2], 1, &p).unwrap_err();
        assert!(err.to_string().starts_with("starts"));
    }
}
