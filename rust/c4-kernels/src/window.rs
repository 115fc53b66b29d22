//! Cutting a day into windows and preparing each window: detrend, QC statistics, taper.

use crate::error::{ensure, Result};
use rayon::prelude::*;

/// How a day record is cut into windows (all lengths in samples).
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Samples per window (`cc_len * fs`).
    pub len: usize,
    /// Samples between window starts (`step * fs`).
    pub step: usize,
    /// Cosine-taper weights, `len` long (see [`cosine_taper`]).
    pub taper: Vec<f32>,
}

impl WindowSpec {
    /// Window of `len` samples every `step` samples with `taper_fraction` of `len` tapered at
    /// each end.
    pub fn new(len: usize, step: usize, taper_fraction: f64) -> Result<Self> {
        ensure(len >= 4, "cc_len", || {
            format!("window must hold at least 4 samples, got {len}")
        })?;
        ensure(step >= 1, "step", || {
            "step must be at least one sample".into()
        })?;
        ensure(
            (0.0..=0.5).contains(&taper_fraction),
            "taper_fraction",
            || format!("must lie in [0, 0.5], got {taper_fraction}"),
        )?;
        let m = (taper_fraction * len as f64).round() as usize;
        Ok(Self {
            len,
            step,
            taper: cosine_taper(len, m),
        })
    }

    /// Number of whole windows in `n_samples` samples.
    pub fn count(&self, n_samples: usize) -> usize {
        if n_samples < self.len {
            0
        } else {
            (n_samples - self.len) / self.step + 1
        }
    }
}

/// Taper of length `len` rising over `m` samples at each end: `w[k] = sin²(π/2 · (k + ½)/m)`
/// for `k < m`, mirrored at the end, 1 in between.
pub fn cosine_taper(len: usize, m: usize) -> Vec<f32> {
    let mut w = vec![1.0f32; len];
    let m = m.min(len / 2);
    for k in 0..m {
        let s = (std::f64::consts::FRAC_PI_2 * (k as f64 + 0.5) / m as f64).sin();
        let v = (s * s) as f32;
        w[k] = v;
        w[len - 1 - k] = v;
    }
    w
}

/// Quality statistics of one window, measured after detrending and before the taper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowQc {
    /// Standard deviation (RMS after detrend), in data units.
    pub std: f32,
    /// max |x| / std (infinite for a flat window).
    pub max_ratio: f32,
    /// Fraction of samples flagged as gaps, in [0, 1].
    pub gap_fraction: f32,
}

impl WindowQc {
    /// Whether the window is usable: not flat, not spiky, not too gappy.
    pub fn is_valid(&self, max_gap_fraction: f32, max_std_ratio: f32) -> bool {
        self.std > 0.0
            && self.std.is_finite()
            && self.max_ratio <= max_std_ratio
            && self.gap_fraction <= max_gap_fraction
    }
}

/// Remove the least-squares line (mean and slope) from `x` in place.
pub fn detrend(x: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let centre = (n as f64 - 1.0) / 2.0;
    let (mut sx, mut stx, mut stt) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in x.iter().enumerate() {
        let t = i as f64 - centre;
        sx += f64::from(v);
        stx += t * f64::from(v);
        stt += t * t;
    }
    let mean = sx / n as f64;
    let slope = if stt > 0.0 { stx / stt } else { 0.0 };
    for (i, v) in x.iter_mut().enumerate() {
        *v = (f64::from(*v) - mean - slope * (i as f64 - centre)) as f32;
    }
}

/// Standard deviation and max|x|/std of a detrended window.
pub fn qc_stats(x: &[f32]) -> (f32, f32) {
    let mut ss = 0.0f64;
    let mut peak = 0.0f32;
    for &v in x {
        ss += f64::from(v) * f64::from(v);
        peak = peak.max(v.abs());
    }
    let std = (ss / x.len().max(1) as f64).sqrt() as f32;
    let ratio = if std > 0.0 { peak / std } else { f32::INFINITY };
    (std, ratio)
}

/// Fraction of `true` entries in a gap mask.
pub fn gap_fraction(gaps: &[bool]) -> f32 {
    if gaps.is_empty() {
        return 0.0;
    }
    gaps.iter().filter(|&&g| g).count() as f32 / gaps.len() as f32
}

/// Multiply `x` by the taper in place.
pub fn apply_taper(x: &mut [f32], taper: &[f32]) {
    for (v, w) in x.iter_mut().zip(taper) {
        *v *= w;
    }
}

/// Cut every channel of a `(n_channels, n_samples)` record into windows and prepare them
/// (detrend, QC, taper), as the spectra step does. Returns `(channel, window, sample)` windows
/// and the `(channel, window)` QC.
pub fn prepare_all(
    data: &[f32],
    n_channels: usize,
    n_samples: usize,
    gaps: Option<&[bool]>,
    spec: &WindowSpec,
) -> Result<(Vec<f32>, Vec<WindowQc>)> {
    ensure(data.len() == n_channels * n_samples, "data", || {
        format!(
            "holds {} values, expected {n_channels} x {n_samples}",
            data.len()
        )
    })?;
    if let Some(g) = gaps {
        ensure(g.len() == data.len(), "gaps", || {
            format!("holds {} values, data holds {}", g.len(), data.len())
        })?;
    }
    let n_windows = spec.count(n_samples);
    let mut out = vec![0.0f32; n_channels * n_windows * spec.len];
    let qc = out
        .par_chunks_mut(spec.len.max(1))
        .enumerate()
        .map(|(k, w)| {
            let start = (k / n_windows) * n_samples + (k % n_windows) * spec.step;
            let range = start..start + spec.len;
            w.copy_from_slice(&data[range.clone()]);
            detrend(w);
            let (std, max_ratio) = qc_stats(w);
            apply_taper(w, &spec.taper);
            WindowQc {
                std,
                max_ratio,
                gap_fraction: gaps.map_or(0.0, |g| gap_fraction(&g[range])),
            }
        })
        .collect();
    Ok((out, qc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detrend_removes_a_line_exactly() {
        let mut x: Vec<f32> = (0..100).map(|i| 3.0 + 0.25 * i as f32).collect();
        detrend(&mut x);
        assert!(x.iter().all(|v| v.abs() < 1e-4));
    }

    #[test]
    fn window_count_and_taper_shape() {
        let spec = WindowSpec::new(100, 25, 0.1).unwrap();
        assert_eq!(spec.count(99), 0);
        assert_eq!(spec.count(100), 1);
        assert_eq!(spec.count(200), 5);
        assert!(spec.taper[0] > 0.0 && spec.taper[0] < 0.05);
        assert_eq!(spec.taper[50], 1.0);
        assert_eq!(spec.taper[3], spec.taper[96]);
    }

    #[test]
    fn flat_window_is_invalid() {
        let (std, ratio) = qc_stats(&[0.0; 8]);
        let qc = WindowQc {
            std,
            max_ratio: ratio,
            gap_fraction: 0.0,
        };
        assert!(!qc.is_valid(0.0, f32::INFINITY));
    }
}
