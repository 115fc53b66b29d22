//! Spectral whitening inside a frequency band with cosine-squared edges.

use crate::error::{ensure, Result};
use crate::options::FreqNorm;
use crate::smooth::{half_width, running_mean_at};
use num_complex::Complex32;
use rayon::prelude::*;
use std::ops::Range;

/// The kept frequency bins of a real spectrum of length `nfft / 2 + 1` and their weights.
///
/// Bins `lo..=hi` (`lo = ceil(freqmin·nfft/fs)`, `hi = floor(freqmax·nfft/fs)`) have weight 1.
/// `taper_bins` bins on each side get `cos²(π d / (2 (taper_bins + 1)))`, `d` = distance in
/// bins from the band edge, so every kept bin has a non-zero weight. The DC and Nyquist bins are
/// never kept. Kept bins are `offset .. offset + weights.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Index of the first kept bin.
    pub offset: usize,
    /// Weight of each kept bin.
    pub weights: Vec<f32>,
}

impl Band {
    /// Band for `nfft`-point spectra sampled at `fs` Hz between `freqmin` and `freqmax` Hz.
    pub fn new(
        fs: f64,
        nfft: usize,
        freqmin: f64,
        freqmax: f64,
        taper_bins: usize,
    ) -> Result<Self> {
        ensure(fs > 0.0 && fs.is_finite(), "fs", || {
            format!("sampling rate must be positive, got {fs}")
        })?;
        ensure(nfft >= 4, "nfft", || {
            format!("must be at least 4, got {nfft}")
        })?;
        let nyquist = fs / 2.0;
        ensure(freqmin > 0.0 && freqmin < nyquist, "freqmin", || {
            format!("must lie in (0, {nyquist}) Hz, got {freqmin}")
        })?;
        ensure(freqmax > freqmin && freqmax < nyquist, "freqmax", || {
            format!("must lie in (freqmin={freqmin}, {nyquist}) Hz, got {freqmax}")
        })?;
        let df = fs / nfft as f64;
        let lo = (freqmin / df).ceil() as usize;
        let hi = (freqmax / df).floor() as usize;
        ensure(lo <= hi, "freqmax", || {
            format!("band {freqmin}-{freqmax} Hz holds no bin at resolution {df} Hz")
        })?;
        let last = nfft / 2 - 1;
        let start = lo.saturating_sub(taper_bins).max(1);
        let end = (hi + taper_bins).min(last);
        let scale = std::f64::consts::PI / (2.0 * (taper_bins as f64 + 1.0));
        let weights = (start..=end)
            .map(|k| {
                let d = if k < lo { lo - k } else { k.saturating_sub(hi) };
                (scale * d as f64).cos().powi(2) as f32
            })
            .collect();
        Ok(Self {
            offset: start,
            weights,
        })
    }

    /// Number of kept bins.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether no bin is kept (never true for a band built by [`Band::new`]).
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// The bins of an `n_half`-bin half-spectrum that [`whiten`] reads: the kept bins, and for
/// `rma` the `smoothspect_n / 2` bins on each side that their running means reach.
pub fn read_range(
    band: &Band,
    method: FreqNorm,
    smoothspect_n: usize,
    n_half: usize,
) -> Range<usize> {
    let kept = band.offset..band.offset + band.len();
    match method {
        FreqNorm::None | FreqNorm::PhaseOnly => kept,
        FreqNorm::Rma => {
            let h = half_width(smoothspect_n);
            kept.start.saturating_sub(h)..(kept.end + h).min(n_half)
        }
    }
}

/// Whiten one half-spectrum (`nfft / 2 + 1` bins) and write its kept bins to `out`.
///
/// `out[k] = w_k · X[offset + k] / A[offset + k]` with `A = 1` (`none`), `|X|` (`phase_only`)
/// or the centred running mean of `|X|` over `smoothspect_n` bins of the whole half-spectrum
/// (`rma`); bins with `A = 0` become 0.
#[inline(always)]
pub fn whiten(
    spectrum: &[Complex32],
    band: &Band,
    method: FreqNorm,
    smoothspect_n: usize,
    out: &mut [Complex32],
) {
    let kept = band.offset..band.offset + band.len();
    let x = &spectrum[kept.clone()];
    match method {
        FreqNorm::None => {
            for ((o, v), w) in out.iter_mut().zip(x).zip(&band.weights) {
                *o = v * *w;
            }
        }
        FreqNorm::PhaseOnly => {
            for ((o, v), w) in out.iter_mut().zip(x).zip(&band.weights) {
                let a = v.norm_sqr().sqrt();
                *o = if a > 0.0 {
                    v * (*w / a)
                } else {
                    Complex32::new(0.0, 0.0)
                };
            }
        }
        FreqNorm::Rma => {
            let h = half_width(smoothspect_n);
            let Range { start: lo, end: hi } =
                read_range(band, method, smoothspect_n, spectrum.len());
            let mags: Vec<f32> = spectrum[lo..hi]
                .iter()
                .map(|v| v.norm_sqr().sqrt())
                .collect();
            let mut mean = vec![0.0f32; band.len()];
            // `mags` covers every bin a kept bin's window can reach, so clipping at its ends is
            // clipping at the spectrum's ends.
            running_mean_at(&mags, h, kept.start - lo..kept.end - lo, &mut mean);
            for (((o, v), w), m) in out.iter_mut().zip(x).zip(&band.weights).zip(mean) {
                *o = if m > 0.0 {
                    v * (*w / m)
                } else {
                    Complex32::new(0.0, 0.0)
                };
            }
        }
    }
}

/// Whiten every half-spectrum (rows of `nfft / 2 + 1` bins) of `spectra`, rows in parallel;
/// returns the kept bins, `(row, band.len())`.
pub fn whiten_rows(
    spectra: &[Complex32],
    nfft: usize,
    band: &Band,
    method: FreqNorm,
    smoothspect_n: usize,
) -> Result<Vec<Complex32>> {
    let n_half = nfft / 2 + 1;
    ensure(spectra.len().is_multiple_of(n_half), "spectra", || {
        format!("rows must hold nfft/2+1 = {n_half} bins")
    })?;
    ensure(smoothspect_n >= 1, "smoothspect_n", || {
        "must be at least 1 bin".into()
    })?;
    let mut out = vec![Complex32::new(0.0, 0.0); spectra.len() / n_half * band.len()];
    out.par_chunks_mut(band.len())
        .zip(spectra.par_chunks(n_half))
        .for_each(|(o, s)| whiten(s, band, method, smoothspect_n, o));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges_and_weights() {
        let band = Band::new(20.0, 40000, 0.05, 2.0, 100).unwrap();
        // lo = 100, hi = 4000; the lower taper is clipped at bin 1.
        assert_eq!(band.offset, 1);
        assert_eq!(band.offset + band.len() - 1, 4100);
        assert_eq!(band.weights[100 - 1], 1.0);
        assert!(band.weights.iter().all(|&w| w > 0.0 && w <= 1.0));
    }

    #[test]
    fn phase_only_has_unit_amplitude_in_band() {
        let band = Band::new(10.0, 64, 1.0, 3.0, 2).unwrap();
        let spec: Vec<Complex32> = (0..33)
            .map(|k| Complex32::new(k as f32 + 1.0, 2.0))
            .collect();
        let mut out = vec![Complex32::new(0.0, 0.0); band.len()];
        whiten(&spec, &band, FreqNorm::PhaseOnly, 1, &mut out);
        for (o, w) in out.iter().zip(&band.weights) {
            assert!((o.norm() - w).abs() < 1e-6);
        }
    }

    #[test]
    fn rejects_band_above_nyquist() {
        let err = Band::new(10.0, 64, 1.0, 6.0, 2).unwrap_err().to_string();
        assert!(err.starts_with("freqmax"), "{err}");
    }
}
