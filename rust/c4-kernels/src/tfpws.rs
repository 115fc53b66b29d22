//! Time-frequency phase-weighted stack (Schimmel & Gallart 2007) with the S-transform.
//!
//! For traces `x_j` of `N` samples (lags) with DFTs `X_j`, the discrete S-transform
//! (Stockwell et al. 1996) at frequency index `n >= 1` is
//!
//! ```text
//! S_j(τ, n) = (1/N) Σ_m X_j[(m + n) mod N] · exp(−2π² m² / n²) · exp(i 2π m τ / N)
//! ```
//!
//! with `m` taken in `−N/2 < m <= N/2`, so that `Σ_τ S_j(τ, n) = X_j[n]` (the inverse
//! S-transform). The stack is
//!
//! ```text
//! c(τ, n) = | (1/T) Σ_j S_j(τ, n) / |S_j(τ, n)| |,      S_lin = (1/T) Σ_j S_j
//! Y[n] = Σ_τ c(τ, n)^ν · S_lin(τ, n),                    y = irfft(Y)
//! ```
//!
//! over the `T` traces. The traces are first zero-padded to `N`, the smallest 5-smooth length
//! not below their length (8001 lags → 8100: a 4x faster FFT, and the Gaussian windows of the
//! voices no longer wrap from one end of the trace to the other); the result is cut back. Only the
//! frequency indices `n_lo ..= n_hi` of the padded length are computed; the others (and DC) are
//! 0 in the result, so the stack is band-limited to them. With identical traces `c = 1` and
//! the result is the trace (band-limited to `n_lo ..= n_hi`).

use crate::fft;
use num_complex::Complex32;
use rayon::prelude::*;

/// Frequency indices `n_lo ..= n_hi` of `n_lags`-sample traces covering `fmin..=fmax` cycles
/// per sample (clipped to `1 ..= n_lags / 2`; an edge within 1e-4 of an index includes it, so
/// f32 rounding of the edges does not move them); empty when none fits.
pub fn bins(n_lags: usize, fmin: f32, fmax: f32) -> std::ops::RangeInclusive<usize> {
    let lo = ((f64::from(fmin) * n_lags as f64 - 1e-4).ceil().max(1.0)) as usize;
    let hi = ((f64::from(fmax) * n_lags as f64 + 1e-4).floor() as usize).min(n_lags / 2);
    lo..=hi
}

/// tf-PWS of one pair's `traces` (`T x n_lags`, row-major) with exponent `power`, over the
/// frequencies `fmin..=fmax` (cycles per sample) of the padded length; writes `n_lags`
/// samples to `out`.
pub fn tfpws(traces: &[f32], n_lags: usize, power: f32, fmin: f32, fmax: f32, out: &mut [f32]) {
    let n = fft::fast_len(n_lags);
    let n_traces = traces.len() / n_lags;
    let forward = fft::complex(n, false);
    let spectra: Vec<Vec<Complex32>> = traces
        .chunks(n_lags)
        .map(|t| {
            let mut s = fft::zeros(n);
            for (z, &v) in s.iter_mut().zip(t) {
                *z = Complex32::new(v, 0.0);
            }
            forward.process(&mut s);
            s
        })
        .collect();
    let mean: Vec<Complex32> = (0..n)
        .map(|k| spectra.iter().map(|s| s[k]).sum::<Complex32>() / n_traces as f32)
        .collect();
    let range = bins(n, fmin, fmax);
    let inverse = fft::complex(n, true);
    let weighted: Vec<(usize, Complex32)> = range
        .into_par_iter()
        .map_init(
            || {
                (
                    fft::zeros(n),
                    fft::zeros(n),
                    fft::zeros(inverse.get_inplace_scratch_len()),
                )
            },
            |(voice, phasors, scratch), k| {
                let gauss = gaussian(n, k);
                phasors.fill(Complex32::new(0.0, 0.0));
                for s in &spectra {
                    s_voice(s, k, &gauss, voice);
                    inverse.process_with_scratch(voice, scratch);
                    // Magnitudes as sqrt(re² + im²), not `norm` (hypot is several times slower).
                    for (p, v) in phasors.iter_mut().zip(voice.iter()) {
                        let a2 = v.norm_sqr();
                        if a2 > 0.0 {
                            *p += v * (1.0 / a2.sqrt());
                        }
                    }
                }
                s_voice(&mean, k, &gauss, voice);
                inverse.process_with_scratch(voice, scratch);
                let scale = 1.0 / n as f32;
                let sum: Complex32 = voice
                    .iter()
                    .zip(phasors.iter())
                    .map(|(v, p)| {
                        let c = p.norm_sqr().sqrt() / n_traces as f32;
                        v * (c.powf(power) * scale)
                    })
                    .sum();
                (k, sum)
            },
        )
        .collect();
    let mut half = fft::zeros(n / 2 + 1);
    for (k, v) in weighted {
        half[k] = v;
    }
    if n.is_multiple_of(2) {
        half[n / 2].im = 0.0;
    }
    let mut time = vec![0.0f32; n];
    fft::inverse(n)
        .process(&mut half, &mut time)
        .expect("buffer sizes match the plan");
    for (o, t) in out.iter_mut().zip(time) {
        *o = t / n as f32;
    }
}

/// `exp(−2π² m² / k²)` for `m = 0 .. n` read as `−n/2 < m <= n/2` (wrapped).
fn gaussian(n: usize, k: usize) -> Vec<f32> {
    let c = -2.0 * std::f64::consts::PI.powi(2) / (k as f64 * k as f64);
    (0..n)
        .map(|i| {
            let m = if 2 * i <= n {
                i as f64
            } else {
                i as f64 - n as f64
            };
            (c * m * m).exp() as f32
        })
        .collect()
}

/// The voice of frequency index `k` before the inverse FFT: `X[(m + k) mod n] · G[m]`.
fn s_voice(spectrum: &[Complex32], k: usize, gauss: &[f32], out: &mut [Complex32]) {
    let n = spectrum.len();
    let (head, tail) = spectrum.split_at(k % n);
    for ((o, x), g) in out.iter_mut().zip(tail.iter().chain(head)).zip(gauss) {
        *o = x * *g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_traces_give_the_trace() {
        let n = 64; // 5-smooth: no padding
        let one: Vec<f32> = (0..n).map(|k| ((k * k) as f32 * 0.01).sin()).collect();
        let mean = one.iter().sum::<f32>() / n as f32;
        let x: Vec<f32> = one.iter().cycle().take(3 * n).copied().collect();
        let mut out = vec![0.0; n];
        tfpws(&x, n, 2.0, 0.0, 0.5, &mut out);
        for (a, b) in out.iter().zip(&one) {
            assert!((a - (b - mean)).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn inverse_s_transform_sums_voices_to_the_spectrum() {
        let n = 50;
        let mut s: Vec<Complex32> = (0..n)
            .map(|k| Complex32::new((k as f32 * 0.3).cos(), 0.0))
            .collect();
        fft::complex(n, false).process(&mut s);
        let k = 7;
        let mut voice = fft::zeros(n);
        s_voice(&s, k, &gaussian(n, k), &mut voice);
        fft::complex(n, true).process(&mut voice);
        let total: Complex32 = voice.iter().sum::<Complex32>() / n as f32;
        assert!((total - s[k]).norm() < 1e-4);
    }
}
