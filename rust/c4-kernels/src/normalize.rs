//! Time-domain normalisation of a window (`time_norm`).

use crate::options::TimeNorm;
use crate::smooth::{half_width, running_mean};
use rayon::prelude::*;

/// Parameters of the time-domain normalisation.
#[derive(Debug, Clone, Copy)]
pub struct TimeNormParams {
    /// Which normalisation.
    pub method: TimeNorm,
    /// Smoothing length in samples for `rma` (>= 1).
    pub smooth_n: usize,
    /// Clip level in standard deviations for `clip` (> 0).
    pub clip_std: f32,
}

/// Normalise `x` in place.
///
/// - `one_bit`: `sign(x)` (zeros stay zero);
/// - `rma`: `x / m` with `m` the centred running mean of `|x|` over `smooth_n` samples
///   (0 where `m` is 0);
/// - `clip`: clamp to `±clip_std · std(x)`;
/// - `none`: unchanged;
/// - `multiband`: unchanged here (it needs the band-limited day record; the spectra step
///   applies it).
#[inline(always)]
pub fn time_normalize(x: &mut [f32], p: &TimeNormParams) {
    match p.method {
        TimeNorm::None | TimeNorm::Multiband => {}
        TimeNorm::OneBit => {
            for v in x.iter_mut() {
                *v = if *v > 0.0 {
                    1.0
                } else if *v < 0.0 {
                    -1.0
                } else {
                    0.0
                };
            }
        }
        TimeNorm::Rma => {
            let abs: Vec<f32> = x.iter().map(|v| v.abs()).collect();
            let m = running_mean(&abs, half_width(p.smooth_n));
            for (v, m) in x.iter_mut().zip(m) {
                *v = if m > 0.0 { *v / m } else { 0.0 };
            }
        }
        TimeNorm::Clip => {
            let ss: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            let mean: f64 = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len().max(1) as f64;
            let var = ss / x.len().max(1) as f64 - mean * mean;
            let lim = (p.clip_std as f64 * var.max(0.0).sqrt()) as f32;
            for v in x.iter_mut() {
                *v = v.clamp(-lim, lim);
            }
        }
    }
}

/// Normalise every row of length `n` of `x` in place, rows in parallel.
pub fn time_normalize_rows(x: &mut [f32], n: usize, p: &TimeNormParams) {
    if n > 0 {
        x.par_chunks_mut(n).for_each(|row| time_normalize(row, p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(method: TimeNorm) -> TimeNormParams {
        TimeNormParams {
            method,
            smooth_n: 3,
            clip_std: 1.0,
        }
    }

    #[test]
    fn one_bit_keeps_signs() {
        let mut x = [2.0, -0.5, 0.0, 7.0];
        time_normalize(&mut x, &params(TimeNorm::OneBit));
        assert_eq!(x, [1.0, -1.0, 0.0, 1.0]);
    }

    #[test]
    fn clip_bounds_by_std() {
        let mut x = [1.0, -1.0, 1.0, -1.0, 10.0, -10.0];
        time_normalize(&mut x, &params(TimeNorm::Clip));
        let std = ((4.0 + 200.0) / 6.0f32).sqrt();
        assert!(x.iter().all(|v| v.abs() <= std + 1e-5));
        assert_eq!(x[0], 1.0);
    }

    #[test]
    fn rma_of_constant_magnitude_is_sign() {
        let mut x = [3.0, -3.0, 3.0, 3.0, -3.0];
        time_normalize(&mut x, &params(TimeNorm::Rma));
        assert_eq!(x, [1.0, -1.0, 1.0, 1.0, -1.0]);
    }
}
