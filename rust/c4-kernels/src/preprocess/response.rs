//! Instrument-response removal on the output grid: divide the spectrum by the response (with a
//! water level), tapered by the pre-filter, as obspy's `remove_response` does.
//!
//! The response comes as complex values on a uniform frequency grid that spans the pre-filter
//! (outside it the pre-filter is 0, so nothing else is needed; the caller evaluates it once per
//! channel epoch, e.g. with obspy's evalresp); each run's FFT bins take it by linear
//! interpolation. The water level is relative to the largest response on that grid (obspy takes
//! the largest up to the input's Nyquist frequency; for a sensor that is flat inside the
//! pre-filter both are its mid-band value). The FFT is f32 and spans at least twice the run so
//! the division does not wrap around.

use crate::error::{ensure, Result};
use crate::fft;
use num_complex::{Complex32, Complex64};

/// What [`remove`] divides by.
#[derive(Debug, Clone)]
pub struct Response<'a> {
    /// Response (data units per output unit, e.g. counts per m/s) at `f0 + k * df` Hz.
    pub values: &'a [Complex64],
    /// Frequency of `values[0]`, Hz.
    pub f0: f64,
    /// Frequency step of `values`, Hz.
    pub df: f64,
    /// Cosine pre-filter corners `f1 < f2 <= f3 < f4`, Hz: 0 below `f1`, rising to 1 at `f2`,
    /// 1 up to `f3`, falling to 0 at `f4` (SAC's and obspy's `cosine_sac_taper`).
    pub pre_filt: [f64; 4],
    /// Water level below the largest response, dB.
    pub water_level_db: f64,
}

impl Response<'_> {
    /// Check the response and its pre-filter against the output rate `fs`.
    pub fn check(&self, fs: f64) -> Result<()> {
        ensure(self.values.len() >= 2, "response", || {
            "needs at least two frequencies".into()
        })?;
        ensure(
            self.values
                .iter()
                .all(|v| v.re.is_finite() && v.im.is_finite()),
            "response",
            || "contains NaN or Inf".into(),
        )?;
        let [f1, f2, f3, f4] = self.pre_filt;
        ensure(
            0.0 <= f1 && f1 < f2 && f2 <= f3 && f3 < f4,
            "pre_filt",
            || {
                format!(
                    "corners must satisfy 0 <= f1 < f2 <= f3 < f4, got {:?}",
                    self.pre_filt
                )
            },
        )?;
        ensure(f4 <= fs / 2.0, "pre_filt", || {
            format!(
                "f4 = {f4} Hz lies above the Nyquist frequency {} Hz",
                fs / 2.0
            )
        })?;
        let top = self.f0 + (self.values.len() - 1) as f64 * self.df;
        let tol = 1e-9 * f4;
        ensure(
            self.df > 0.0 && self.f0 <= f1 + tol && top >= f4 - tol,
            "response_df",
            || {
                format!(
                    "the response spans {} to {top} Hz, not the pre-filter's {f1} to {f4} Hz",
                    self.f0
                )
            },
        )?;
        ensure(self.water_level_db.is_finite(), "water_level", || {
            "must be a finite number of dB".into()
        })
    }

    /// The pre-filter's weight at `f` Hz.
    pub fn taper(&self, f: f64) -> f64 {
        let [f1, f2, f3, f4] = self.pre_filt;
        if f < f1 || f > f4 {
            0.0
        } else if f < f2 {
            0.5 * (1.0 - (std::f64::consts::PI * (f - f1) / (f2 - f1)).cos())
        } else if f <= f3 {
            1.0
        } else {
            0.5 * (1.0 + (std::f64::consts::PI * (f - f3) / (f4 - f3)).cos())
        }
    }

    /// The response at `f` Hz, linearly interpolated.
    fn at(&self, f: f64) -> Complex64 {
        let u = ((f - self.f0) / self.df).max(0.0);
        let last = self.values.len() - 1;
        let k = (u.floor() as usize).min(last - 1);
        let w = (u - k as f64).min(1.0);
        self.values[k] * (1.0 - w) + self.values[k + 1] * w
    }
}

/// FFT length for a run of `n` samples: at least `2 n`, from a ladder of four lengths per
/// octave (`2^k` times 1, 5/4, 3/2 or 15/8), so that days with different gaps share plans.
pub fn fft_len(n: usize) -> usize {
    let want = (2 * n).max(16);
    let mut p = 8usize;
    loop {
        for (num, den) in [(1, 1), (5, 4), (3, 2), (15, 8)] {
            let len = p * num / den;
            if len >= want {
                return len;
            }
        }
        p *= 2;
    }
}

/// Remove the response from `y` (sampled at `fs` Hz) in place.
pub fn remove(y: &mut [f32], fs: f64, resp: &Response<'_>) {
    let n = y.len();
    let nfft = fft_len(n);
    let mut buf = vec![0.0f32; nfft];
    buf[..n].copy_from_slice(y);
    let mut spec = fft::zeros(nfft / 2 + 1);
    fft::forward(nfft)
        .process(&mut buf, &mut spec)
        .expect("FFT buffers have the planned lengths");
    let largest = resp.values.iter().map(|v| v.norm()).fold(0.0f64, f64::max);
    let level = largest * 10f64.powf(-resp.water_level_db / 20.0);
    let scale = 1.0 / nfft as f64;
    for (k, s) in spec.iter_mut().enumerate() {
        let f = k as f64 * fs / nfft as f64;
        let taper = resp.taper(f);
        let mut r = resp.at(f);
        let amp = r.norm();
        if amp > 0.0 && amp < level {
            r *= level / amp;
        }
        let w = if taper > 0.0 && amp > 0.0 {
            r.inv() * (taper * scale)
        } else {
            Complex64::new(0.0, 0.0)
        };
        *s *= Complex32::new(w.re as f32, w.im as f32);
    }
    // The inverse real FFT wants real values at 0 Hz and at Nyquist.
    spec[0].im = 0.0;
    if let Some(last) = spec.last_mut() {
        last.im = 0.0;
    }
    fft::inverse(nfft)
        .process(&mut spec, &mut buf)
        .expect("FFT buffers have the planned lengths");
    y.copy_from_slice(&buf[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn fft_lengths_are_at_least_twice_the_run_and_few() {
        for n in [1, 7, 1000, 1_728_000, 1_730_401] {
            let len = fft_len(n);
            assert!(len >= 2 * n && len < 2 * n * 5 / 4 + 16, "{n} -> {len}");
            assert_eq!(crate::fft::fast_len(len), len);
        }
        let distinct: std::collections::BTreeSet<usize> =
            (1_000_000..1_100_000).step_by(997).map(fft_len).collect();
        assert!(distinct.len() <= 2);
    }

    #[test]
    fn the_pre_filter_is_a_cosine_taper() {
        let values = [Complex64::new(1.0, 0.0); 2];
        let r = Response {
            values: &values,
            f0: 0.0,
            df: 10.0,
            pre_filt: [1.0, 2.0, 4.0, 6.0],
            water_level_db: 60.0,
        };
        assert_eq!(r.taper(0.5), 0.0);
        assert!((r.taper(1.5) - 0.5).abs() < 1e-12);
        assert_eq!(r.taper(3.0), 1.0);
        assert!((r.taper(5.0) - 0.5).abs() < 1e-12);
        assert_eq!(r.taper(6.5), 0.0);
        assert!(r.check(20.0).is_ok());
        assert!(r.check(10.0).is_err()); // f4 above Nyquist
        let short = Response {
            df: 5.0,
            ..r.clone()
        };
        assert!(short.check(20.0).is_err()); // the response stops at 5 Hz
        let bad = Response {
            pre_filt: [2.0, 1.0, 4.0, 6.0],
            ..r
        };
        assert!(bad.check(20.0).is_err());
    }

    #[test]
    fn a_gain_and_delay_response_is_divided_out() {
        // R(f) = G exp(-2 pi i f tau): the instrument scales by G and delays by tau, so the
        // corrected record is the input / G, advanced by tau, band-limited by the pre-filter.
        let (fs, n, gain, tau) = (20.0, 8000, 250.0, 0.35);
        // the response is given only where the pre-filter is not 0
        let (f0, df) = (0.05, 0.001);
        let values: Vec<Complex64> = (0..=3950)
            .map(|k| Complex64::from_polar(gain, -2.0 * PI * (f0 + k as f64 * df) * tau))
            .collect();
        let resp = Response {
            values: &values,
            f0,
            df,
            pre_filt: [0.05, 0.1, 3.0, 4.0],
            water_level_db: 60.0,
        };
        let carrier = 1.25;
        let record = |shift: f64| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    let t = i as f64 / fs - shift;
                    let env = (PI * t * fs / n as f64).sin().powi(2);
                    (env * (2.0 * PI * carrier * t).sin()) as f32
                })
                .collect()
        };
        // what the instrument recorded: G times the ground motion delayed by tau
        let mut y: Vec<f32> = record(tau).iter().map(|v| v * gain as f32).collect();
        remove(&mut y, fs, &resp);
        let want = record(0.0);
        for i in n / 4..3 * n / 4 {
            assert!(
                (y[i] - want[i]).abs() < 2e-3,
                "{i}: {} vs {}",
                y[i],
                want[i]
            );
        }
    }

    #[test]
    fn the_water_level_caps_the_inverse() {
        // between 2.5 and 7.5 Hz the response is 100 dB below its peak; a 60 dB water level
        // divides a 5 Hz signal there by 1e-3 instead of 1e-5
        let mut values = [Complex64::new(1e-5, 0.0); 5];
        values[0] = Complex64::new(1.0, 0.0);
        values[4] = Complex64::new(1.0, 0.0);
        let r = Response {
            values: &values,
            f0: 0.0,
            df: 2.5,
            pre_filt: [0.0, 0.1, 9.8, 9.9],
            water_level_db: 60.0,
        };
        let n = 4000;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let env = (PI * i as f64 / n as f64).sin().powi(2);
                (env * (2.0 * PI * 5.0 * i as f64 / 20.0).sin()) as f32
            })
            .collect();
        let mut y = x.clone();
        remove(&mut y, 20.0, &r);
        let peak = |v: &[f32]| {
            v[n / 4..3 * n / 4]
                .iter()
                .fold(0.0f32, |a, b| a.max(b.abs()))
        };
        let ratio = peak(&y) / peak(&x);
        assert!((ratio - 1e3).abs() < 10.0, "amplified {ratio}x");
    }
}
