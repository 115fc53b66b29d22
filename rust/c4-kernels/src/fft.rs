//! FFT plans, cached process-wide, and the choice of fast transform lengths.

use num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::sync::{Arc, Mutex, OnceLock};

fn real_planner() -> &'static Mutex<RealFftPlanner<f32>> {
    static PLANNER: OnceLock<Mutex<RealFftPlanner<f32>>> = OnceLock::new();
    PLANNER.get_or_init(|| Mutex::new(RealFftPlanner::new()))
}

fn complex_planner() -> &'static Mutex<FftPlanner<f32>> {
    static PLANNER: OnceLock<Mutex<FftPlanner<f32>>> = OnceLock::new();
    PLANNER.get_or_init(|| Mutex::new(FftPlanner::new()))
}

/// Forward real FFT of length `n` (unnormalised, numpy's `rfft` convention).
pub fn forward(n: usize) -> Arc<dyn RealToComplex<f32>> {
    real_planner()
        .lock()
        .expect("FFT planner lock poisoned")
        .plan_fft_forward(n)
}

/// Inverse real FFT of length `n` (unnormalised: divide by `n` for numpy's `irfft`).
pub fn inverse(n: usize) -> Arc<dyn ComplexToReal<f32>> {
    real_planner()
        .lock()
        .expect("FFT planner lock poisoned")
        .plan_fft_inverse(n)
}

/// Complex FFT of length `n`, forward or inverse (unnormalised).
pub fn complex(n: usize, inverse: bool) -> Arc<dyn Fft<f32>> {
    let mut planner = complex_planner().lock().expect("FFT planner lock poisoned");
    if inverse {
        planner.plan_fft_inverse(n)
    } else {
        planner.plan_fft_forward(n)
    }
}

/// Smallest `m >= n` whose only prime factors are 2, 3 and 5 (fast for every FFT backend).
pub fn fast_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// A zeroed complex buffer.
pub fn zeros(n: usize) -> Vec<Complex32> {
    vec![Complex32::new(0.0, 0.0); n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_len_is_5_smooth_and_minimal() {
        assert_eq!(fast_len(36000 + 4000), 40000);
        assert_eq!(fast_len(7), 8);
        assert_eq!(fast_len(1), 1);
        assert_eq!(fast_len(97), 100);
    }

    #[test]
    fn forward_then_inverse_returns_n_times_input() {
        let n = 30;
        let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut xin = x.clone();
        let mut spec = zeros(n / 2 + 1);
        forward(n).process(&mut xin, &mut spec).unwrap();
        let mut back = vec![0.0; n];
        inverse(n).process(&mut spec, &mut back).unwrap();
        for (a, b) in x.iter().zip(&back) {
            assert!((a * n as f32 - b).abs() < 1e-4);
        }
    }
}
