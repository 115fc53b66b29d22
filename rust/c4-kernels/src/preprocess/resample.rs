//! Applying the low-pass on the way to the output grid: integer decimation at a fixed phase, and
//! resampling by any ratio through the interpolated phase table of [`Lowpass::table`].
//!
//! Both read a padded input `x` (zeros beyond the run) and compute each output as dot products
//! of the taps with a contiguous stretch of `x`, in AVX2 + FMA intrinsics where the CPU has them
//! (detected at run time; LLVM vectorised the portable loops across outputs, with shuffles, at a
//! third of the speed) and in [`V`]-lane partial sums otherwise.

use super::lowpass::{Lowpass, PHASES, V};

/// Outputs per pass over the taps in the AVX2 decimation (eight accumulators keep both FMA
/// ports busy; the taps are loaded once for all eight).
pub const OUTS: usize = 8;

/// `out[m] = sum_j h[j] * x[base + m * q + j]`; `h.len()` is a multiple of [`V`].
///
/// # Panics
/// If `x` does not hold every sample read.
pub fn decimate(x: &[f32], base: usize, q: usize, h: &[f32], out: &mut [f32]) {
    assert!(
        h.len().is_multiple_of(V),
        "taps are padded to whole vectors"
    );
    if out.is_empty() {
        return;
    }
    assert!(
        base + (out.len() - 1) * q + h.len() <= x.len(),
        "input too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, and every read lies inside `x` and `h`
            // (checked above).
            return unsafe { decimate_avx2(x, base, q, h, out) };
        }
    }
    for (m, y) in out.iter_mut().enumerate() {
        *y = dot(h, &x[base + m * q..][..h.len()]);
    }
}

#[inline(always)]
fn dot(h: &[f32], x: &[f32]) -> f32 {
    let mut acc = [0.0f32; V];
    for (hv, xv) in h.chunks_exact(V).zip(x.chunks_exact(V)) {
        for l in 0..V {
            acc[l] += hv[l] * xv[l];
        }
    }
    acc.iter().sum()
}

/// The sum of the eight lanes of `v`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn decimate_avx2(x: &[f32], base: usize, q: usize, h: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = h.len();
    let (xp, hp) = (x.as_ptr(), h.as_ptr());
    let mut m = 0;
    while m + OUTS <= out.len() {
        let p = xp.add(base + m * q);
        let mut acc = [_mm256_setzero_ps(); OUTS];
        let mut c = 0;
        while c < n {
            let hv = _mm256_loadu_ps(hp.add(c));
            for (o, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(hv, _mm256_loadu_ps(p.add(o * q + c)), *a);
            }
            c += V;
        }
        for (o, a) in acc.iter().enumerate() {
            out[m + o] = hsum(*a);
        }
        m += OUTS;
    }
    while m < out.len() {
        let p = xp.add(base + m * q);
        let mut a = _mm256_setzero_ps();
        let mut c = 0;
        while c < n {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(hp.add(c)), _mm256_loadu_ps(p.add(c)), a);
            c += V;
        }
        out[m] = hsum(a);
        m += 1;
    }
}

/// Resample: output `m` lies `p0 + m * step` input samples after the first sample of the run,
/// which is `x[pad]` (`pad >= lp.half_width`); `table` is `lp.table()`. Each output is the
/// linear interpolation between the outputs of the two nearest phases of the table.
///
/// # Panics
/// If `x` does not hold every sample read.
pub fn resample(
    x: &[f32],
    pad: usize,
    lp: &Lowpass,
    table: &[f32],
    p0: f64,
    step: f64,
    out: &mut [f32],
) {
    let n = lp.len();
    assert!(pad >= lp.half_width && table.len() == (PHASES + 1) * n);
    for (m, y) in out.iter_mut().enumerate() {
        let p = (p0 + m as f64 * step).max(0.0);
        let i = p.floor();
        let phase = (p - i) * PHASES as f64;
        let row = (phase as usize).min(PHASES - 1);
        let w = (phase - row as f64) as f32;
        let xs = &x[pad + i as usize - lp.half_width..][..n];
        let (a, b) = (&table[row * n..][..n], &table[(row + 1) * n..][..n]);
        let (ya, yb) = dot2(a, b, xs);
        *y = ya + w * (yb - ya);
    }
}

/// `(a . x, b . x)`.
#[inline]
fn dot2(a: &[f32], b: &[f32], x: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA; the three slices have the same length, a
            // multiple of `V` (the loop reads whole vectors inside them).
            return unsafe { dot2_avx2(a, b, x) };
        }
    }
    (dot(a, x), dot(b, x))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot2_avx2(a: &[f32], b: &[f32], x: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    assert!(a.len() == x.len() && b.len() == x.len() && x.len().is_multiple_of(V));
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut c = 0;
    while c < x.len() {
        let xv = _mm256_loadu_ps(x.as_ptr().add(c));
        let k = (c / V) % 2;
        acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a.as_ptr().add(c)), xv, acc[k]);
        acc[2 + k] = _mm256_fmadd_ps(_mm256_loadu_ps(b.as_ptr().add(c)), xv, acc[2 + k]);
        c += V;
    }
    (
        hsum(_mm256_add_ps(acc[0], acc[1])),
        hsum(_mm256_add_ps(acc[2], acc[3])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(x: &[f32], pad: usize, right: usize) -> Vec<f32> {
        let mut v = vec![0.0; pad];
        v.extend_from_slice(x);
        v.resize(v.len() + right, 0.0);
        v
    }

    fn sine(f: f64, rate: f64, t0: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * f * (t0 + i as f64 / rate)).sin() as f32)
            .collect()
    }

    #[test]
    fn decimation_keeps_in_band_signal_and_removes_what_would_alias() {
        let (r, fs, q) = (100.0, 20.0, 5);
        let lp = Lowpass::new(r, fs);
        for (mu, f_in, expect_gain) in [(0.0, 1.3, 1.0), (0.37, 6.9, 1.0), (0.0, 23.0, 0.0)] {
            let x = sine(f_in, r, 0.0, 20_000);
            let xp = padded(&x, lp.half_width, lp.len() + OUTS * q);
            let taps = lp.taps(mu);
            let mut y = vec![0.0; 3000];
            // output m at input position 500 + mu + m q
            decimate(&xp, 500, q, &taps, &mut y);
            for (m, &v) in y.iter().enumerate() {
                let t = (500.0 + mu + (m * q) as f64) / r;
                let want = expect_gain * (2.0 * std::f64::consts::PI * f_in * t).sin();
                assert!(
                    (v as f64 - want).abs() < 2e-5,
                    "f {f_in} mu {mu} m {m}: {v} vs {want}"
                );
            }
        }
    }

    #[test]
    fn resampling_by_any_ratio_lands_on_the_true_sample_times() {
        // a 40.000016 Hz record onto a 20 Hz grid, and 50 Hz onto 20 Hz
        for (r, fs, f) in [(40.000016, 20.0, 2.7), (50.0, 20.0, 7.1), (20.0, 20.0, 3.3)] {
            let lp = Lowpass::new(r, fs);
            let table = lp.table();
            let x = sine(f, r, 0.0, 40_000);
            let xp = padded(&x, lp.half_width, lp.len() + 2);
            let (p0, step) = (400.123, r / fs);
            let mut y = vec![0.0; 2000];
            resample(&xp, lp.half_width, &lp, &table, p0, step, &mut y);
            for (m, &v) in y.iter().enumerate() {
                let t = (p0 + m as f64 * step) / r;
                let want = (2.0 * std::f64::consts::PI * f * t).sin();
                assert!(
                    (v as f64 - want).abs() < 3e-5,
                    "{r}->{fs} m {m}: {v} vs {want}"
                );
            }
        }
    }

    #[test]
    fn the_remainder_outputs_equal_the_blocked_ones() {
        let lp = Lowpass::new(40.0, 20.0);
        let x: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 1000) as f32 - 500.0)
            .collect();
        let taps = lp.taps(0.25);
        let (mut a, mut b) = (vec![0.0; 1001], vec![0.0; 3]);
        decimate(&x, 10, 2, &taps, &mut a);
        decimate(&x, 10 + 2 * 998, 2, &taps, &mut b);
        assert_eq!(&a[998..], &b[..]);
    }
}
