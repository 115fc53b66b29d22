//! Cubic-convolution interpolation (Keys 1981, `a = −0.5`) and stretched copies of a trace.

/// Keys' cubic-convolution kernel with `a = −0.5` at offset `x` (samples).
#[cfg(test)]
fn keys(x: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        (1.5 * x - 2.5) * x * x + 1.0
    } else if x < 2.0 {
        ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    } else {
        0.0
    }
}

/// The trace `x` at fractional index `pos`, from the four nearest samples (zero outside).
pub fn cubic_at(x: &[f32], pos: f64) -> f64 {
    let base = pos.floor();
    let f = pos - base;
    let base = base as i64;
    // Keys' kernel at offsets 1 + f, f, 1 - f, 2 - f (f in [0, 1)), written out.
    let w = [
        ((-0.5 * f + 1.0) * f - 0.5) * f,
        (1.5 * f - 2.5) * f * f + 1.0,
        ((-1.5 * f + 2.0) * f + 0.5) * f,
        (0.5 * f - 0.5) * f * f,
    ];
    if base >= 1 && (base + 2) < x.len() as i64 {
        let i = base as usize - 1;
        return w
            .iter()
            .zip(&x[i..i + 4])
            .map(|(w, &v)| w * f64::from(v))
            .sum();
    }
    let mut out = 0.0;
    for (k, wk) in w.iter().enumerate() {
        let i = base + k as i64 - 1;
        if i >= 0 && (i as usize) < x.len() {
            out += f64::from(x[i as usize]) * wk;
        }
    }
    out
}

/// `x` stretched about index `zero` by `1 + eps`, at `indices`:
/// `out[j] = x(zero + (indices[j] − zero)(1 + eps))`, i.e. `r(t (1 + eps))` in lag time.
pub fn stretched(x: &[f32], zero: usize, eps: f64, indices: &[usize], out: &mut [f64]) {
    let z = zero as f64;
    for (o, &i) in out.iter_mut().zip(indices) {
        *o = cubic_at(x, z + (i as f64 - z) * (1.0 + eps));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_samples_exactly_and_cubics_exactly() {
        let x: Vec<f32> = (0..20).map(|i| (i as f32 * 0.7).sin()).collect();
        for (i, &v) in x.iter().enumerate().skip(1).take(17) {
            assert!((cubic_at(&x, i as f64) - f64::from(v)).abs() < 1e-7);
        }
        // Keys' kernel reproduces quadratics exactly inside the trace.
        let q: Vec<f32> = (0..20).map(|i| (0.1 * (i * i) as f64) as f32).collect();
        let pos = 7.3;
        assert!((cubic_at(&q, pos) - 0.1 * pos * pos).abs() < 1e-4);
    }

    #[test]
    fn written_out_weights_are_the_kernel() {
        for f in [0.0, 0.13, 0.5, 0.77, 0.999] {
            let x = [0.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
            // A unit sample at index 4 read from position 4 - k + f weighs keys(f - k).
            for k in -1..=2i64 {
                let pos = (4 - k) as f64 + f;
                assert!((cubic_at(&x, pos) - keys(f - k as f64)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn zero_outside_and_stretch_about_zero_index() {
        let x = vec![1.0f32; 10];
        assert_eq!(cubic_at(&x, -5.0), 0.0);
        assert_eq!(cubic_at(&x, 14.0), 0.0);
        let ramp: Vec<f32> = (0..41).map(|i| i as f32 - 20.0).collect();
        let idx = [10usize, 20, 30];
        let mut out = [0.0; 3];
        stretched(&ramp, 20, 0.1, &idx, &mut out);
        // x(t) = t, so x(t (1 + 0.1)) = 1.1 t at t = -10, 0, 10.
        for (o, e) in out.iter().zip([-11.0, 0.0, 11.0]) {
            assert!((o - e).abs() < 1e-5, "{o} vs {e}");
        }
    }
}
