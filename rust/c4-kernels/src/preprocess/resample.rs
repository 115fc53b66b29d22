//! Applying the low-pass on the way to the output grid: integer decimation at a fixed phase, and
//! resampling by any ratio through the interpolated phase table of [`Lowpass::table`].
//!
//! Both read a padded input `x` (zeros beyond the run) and compute each output as dot products
//! of the taps with a contiguous stretch of `x` in [`V`]-lane partial sums (the compiler does not
//! reorder floating-point sums by itself); decimation computes four outputs per pass over the
//! taps so each tap vector is loaded once for four outputs. AVX2 and FMA are used where the CPU
//! has them (detected at run time).

use super::lowpass::{Lowpass, PHASES, V};

/// Outputs per pass over the taps in [`decimate`].
const OUTS: usize = 4;

/// `out[m] = sum_j h[j] * x[base + m * q + j]`; `h.len()` is a multiple of [`V`] and `x`
/// holds every sample read.
pub fn decimate(x: &[f32], base: usize, q: usize, h: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features enabled on `decimate_avx2`.
            return unsafe { decimate_avx2(x, base, q, h, out) };
        }
    }
    decimate_with(x, base, q, h, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn decimate_avx2(x: &[f32], base: usize, q: usize, h: &[f32], out: &mut [f32]) {
    decimate_with(x, base, q, h, out)
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

#[inline(always)]
fn decimate_with(x: &[f32], base: usize, q: usize, h: &[f32], out: &mut [f32]) {
    let n = h.len();
    let mut blocks = out.chunks_exact_mut(OUTS);
    let mut m = 0;
    for block in &mut blocks {
        let start = base + m * q;
        let xs: [&[f32]; OUTS] = std::array::from_fn(|o| &x[start + o * q..][..n]);
        let mut acc = [[0.0f32; V]; OUTS];
        for (c, hv) in h.chunks_exact(V).enumerate() {
            for o in 0..OUTS {
                let xv = &xs[o][c * V..][..V];
                for l in 0..V {
                    acc[o][l] += hv[l] * xv[l];
                }
            }
        }
        for (y, a) in block.iter_mut().zip(&acc) {
            *y = a.iter().sum();
        }
        m += OUTS;
    }
    for y in blocks.into_remainder() {
        *y = dot(h, &x[base + m * q..][..n]);
        m += 1;
    }
}

/// Resample: output `m` lies `p0 + m * step` input samples after the first sample of the run,
/// which is `x[pad]` (`pad >= lp.half_width`); `table` is `lp.table()`.
pub fn resample(
    x: &[f32],
    pad: usize,
    lp: &Lowpass,
    table: &[f32],
    p0: f64,
    step: f64,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features enabled on `resample_avx2`.
            return unsafe { resample_avx2(x, pad, lp, table, p0, step, out) };
        }
    }
    resample_with(x, pad, lp, table, p0, step, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn resample_avx2(
    x: &[f32],
    pad: usize,
    lp: &Lowpass,
    table: &[f32],
    p0: f64,
    step: f64,
    out: &mut [f32],
) {
    resample_with(x, pad, lp, table, p0, step, out)
}

#[inline(always)]
fn resample_with(
    x: &[f32],
    pad: usize,
    lp: &Lowpass,
    table: &[f32],
    p0: f64,
    step: f64,
    out: &mut [f32],
) {
    let n = lp.len();
    for (m, y) in out.iter_mut().enumerate() {
        let p = (p0 + m as f64 * step).max(0.0);
        let i = p.floor();
        let phase = (p - i) * PHASES as f64;
        let row = (phase as usize).min(PHASES - 1);
        let w = (phase - row as f64) as f32;
        let xs = &x[pad + i as usize - lp.half_width..][..n];
        let a = dot(&table[row * n..][..n], xs);
        let b = dot(&table[(row + 1) * n..][..n], xs);
        *y = a + w * (b - a);
    }
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
