//! Zero-phase band-pass filtering of whole records in the frequency domain, and envelopes.
//!
//! The spectra step uses band-limited copies of each day record for window QC, for `rma`
//! weights taken from another band and for the transient mute. One forward real FFT of the
//! zero-padded record serves every band; each band costs one inverse FFT.

use crate::error::{ensure, Result};
use crate::fft;
use num_complex::Complex32;

/// A Butterworth band-pass applied forwards and backwards (zero phase).
///
/// Gain at frequency `f` (Hz): `|H(f)|² = 1 / (1 + x^(2·corners))` with
/// `x = (f² − f_lo·f_hi) / (f · (f_hi − f_lo))`, the analog Butterworth band-pass magnitude
/// squared (filtering twice squares it, as obspy's `bandpass(..., zerophase=True)`; the
/// digital filter's bilinear frequency warping is not modelled). The gain is 1/2 at both
/// corners and 1 at `sqrt(f_lo·f_hi)`; it is 0 at DC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ButterBand {
    /// Lower corner in Hz (> 0).
    pub fmin: f64,
    /// Upper corner in Hz (> fmin, below Nyquist).
    pub fmax: f64,
    /// Filter order of one pass (obspy's `corners`, >= 1).
    pub corners: u32,
}

impl ButterBand {
    /// The band `fmin..fmax` Hz with 4 corners (NoisePy's and obspy's usual order).
    pub fn new(fmin: f64, fmax: f64) -> Self {
        Self {
            fmin,
            fmax,
            corners: 4,
        }
    }

    /// Check the corners against the sampling rate `fs` (Hz).
    pub fn validate(&self, name: &'static str, fs: f64) -> Result<()> {
        ensure(
            self.fmin > 0.0 && self.fmax > self.fmin && self.fmax < fs / 2.0,
            name,
            || {
                format!(
                    "band {}-{} Hz must satisfy 0 < fmin < fmax < Nyquist ({} Hz)",
                    self.fmin,
                    self.fmax,
                    fs / 2.0
                )
            },
        )?;
        ensure(self.corners >= 1, name, || {
            "needs at least one corner".into()
        })
    }

    /// Power gain at `f` Hz (see the type's documentation).
    pub fn gain(&self, f: f64) -> f64 {
        if f <= 0.0 {
            return 0.0;
        }
        let x = (f * f - self.fmin * self.fmax) / (f * (self.fmax - self.fmin));
        1.0 / (1.0 + x.abs().powi(2 * self.corners as i32))
    }

    /// Samples of zero padding that keep the filter's ringing from wrapping around the record:
    /// ten periods of the lower corner.
    pub fn padding(&self, fs: f64) -> usize {
        (10.0 * fs / self.fmin).ceil() as usize
    }
}

/// The real FFT of one zero-padded record, reused for every band.
pub struct RecordSpectrum {
    /// FFT length.
    pub nfft: usize,
    /// Record length in samples.
    pub n: usize,
    /// Sampling rate in Hz.
    pub fs: f64,
    /// Half-spectrum, `nfft / 2 + 1` bins.
    pub half: Vec<Complex32>,
}

impl RecordSpectrum {
    /// Transform `x` sampled at `fs` Hz, zero-padded by at least `padding` samples.
    pub fn new(x: &[f32], fs: f64, padding: usize) -> Self {
        let n = x.len();
        let nfft = fft::fast_len(n + padding.max(1));
        let mut buf = vec![0.0f32; nfft];
        buf[..n].copy_from_slice(x);
        let mut half = fft::zeros(nfft / 2 + 1);
        fft::forward(nfft)
            .process(&mut buf, &mut half)
            .expect("buffer sizes match the plan");
        Self { nfft, n, fs, half }
    }

    /// The record filtered by `band` (zero phase), `n` samples.
    pub fn filtered(&self, band: &ButterBand) -> Vec<f32> {
        let df = self.fs / self.nfft as f64;
        let scale = 1.0 / self.nfft as f64;
        let mut half: Vec<Complex32> = self
            .half
            .iter()
            .enumerate()
            .map(|(k, v)| v * (band.gain(k as f64 * df) * scale) as f32)
            .collect();
        // The imaginary parts of DC and Nyquist must be zero for the inverse real FFT.
        half[0] = Complex32::new(0.0, 0.0);
        if self.nfft.is_multiple_of(2) {
            let last = half.len() - 1;
            half[last].im = 0.0;
        }
        let mut out = vec![0.0f32; self.nfft];
        fft::inverse(self.nfft)
            .process(&mut half, &mut out)
            .expect("buffer sizes match the plan");
        out.truncate(self.n);
        out
    }

    /// Envelope `|x_b + i·H(x_b)|` of the record filtered by `band`, `n` samples: the magnitude
    /// of the analytic signal (positive frequencies doubled, negative ones zero).
    pub fn envelope(&self, band: &ButterBand) -> Vec<f32> {
        let df = self.fs / self.nfft as f64;
        let scale = 2.0 / self.nfft as f64;
        let mut full = fft::zeros(self.nfft);
        for (k, (o, v)) in full.iter_mut().zip(&self.half).enumerate().skip(1) {
            // Nyquist (even nfft) is its own mirror: weight 1, not 2.
            let w = if 2 * k == self.nfft { 0.5 } else { 1.0 };
            *o = v * (w * band.gain(k as f64 * df) * scale) as f32;
        }
        fft::complex(self.nfft, true).process(&mut full);
        full.iter().take(self.n).map(|v| v.norm()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, fs: f64, f: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / fs).sin() as f32)
            .collect()
    }

    #[test]
    fn gain_is_half_at_the_corners_and_one_at_the_centre() {
        let b = ButterBand::new(0.1, 1.0);
        assert!((b.gain(0.1) - 0.5).abs() < 1e-12);
        assert!((b.gain(1.0) - 0.5).abs() < 1e-12);
        assert!((b.gain(0.1f64.sqrt()) - 1.0).abs() < 1e-12);
        assert!(b.gain(5.0) < 1e-5 && b.gain(0.0) == 0.0);
    }

    #[test]
    fn a_sine_in_band_passes_and_one_outside_is_removed() {
        let (fs, n) = (20.0, 20000);
        let b = ButterBand::new(0.2, 1.0);
        let inside = RecordSpectrum::new(&sine(n, fs, 0.45), fs, b.padding(fs)).filtered(&b);
        let outside = RecordSpectrum::new(&sine(n, fs, 6.0), fs, b.padding(fs)).filtered(&b);
        let mid = n / 4..3 * n / 4;
        let peak = |x: &[f32]| x[mid.clone()].iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let g = b.gain(0.45) as f32;
        assert!((peak(&inside) - g).abs() < 0.01 * g, "{}", peak(&inside));
        assert!(peak(&outside) < 1e-4, "{}", peak(&outside));
    }

    #[test]
    fn envelope_of_a_sine_is_its_amplitude() {
        let (fs, n) = (20.0, 8000);
        let b = ButterBand::new(0.2, 2.0);
        let x: Vec<f32> = sine(n, fs, 0.6).iter().map(|v| 3.0 * v).collect();
        let env = RecordSpectrum::new(&x, fs, b.padding(fs)).envelope(&b);
        let g = 3.0 * b.gain(0.6) as f32;
        for v in &env[n / 4..3 * n / 4] {
            assert!((v - g).abs() < 0.01 * g, "{v} vs {g}");
        }
    }
}
