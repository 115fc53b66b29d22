//! Demean, linear detrend and taper of one run (obspy's `detrend("demean")`,
//! `detrend("linear")` and `taper(max_percentage, max_length, type="hann")`), written as f32
//! into a zero-padded buffer for the low-pass.
//!
//! The line is fitted and subtracted in f64: raw counts can carry offsets of millions next to
//! signals of a few counts, which f32 would not resolve before the offset is gone.

use super::merge::Run;
use super::{Samples, Trace};

/// Sample types the decoder delivers.
pub trait Sample: Copy {
    fn to_f64(self) -> f64;
}

impl Sample for i32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Sample for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Sample for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// f64 lanes of the sums (independent partial sums the compiler can vectorise).
const L: usize = 4;

/// The least-squares line through a run: `x_i ~ mean + slope * (i - centre)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub mean: f64,
    pub slope: f64,
    pub centre: f64,
}

/// Add `sum x` and `sum (i - centre) x` of `x` (whose first sample has `t0 = i - centre`).
fn sums<T: Sample>(x: &[T], t0: f64, s: &mut [f64; 2]) {
    let (mut sx, mut stx) = ([0.0f64; L], [0.0f64; L]);
    let mut t: [f64; L] = std::array::from_fn(|l| t0 + l as f64);
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            let v = c[l].to_f64();
            sx[l] += v;
            stx[l] += t[l] * v;
            t[l] += L as f64;
        }
    }
    for (v, tl) in rest.iter().zip(t) {
        sx[0] += v.to_f64();
        stx[0] += tl * v.to_f64();
    }
    s[0] += sx.iter().sum::<f64>();
    s[1] += stx.iter().sum::<f64>();
}

/// Call `f` with each piece of `run` as a typed slice and its offset in the run.
macro_rules! each_piece {
    ($run:expr, $traces:expr, |$x:ident, $at:ident| $body:expr) => {{
        let mut $at = 0usize;
        for p in &$run.pieces {
            match $traces[p.trace].samples.slice(p.start, p.len) {
                Samples::I32($x) => $body,
                Samples::F32($x) => $body,
                Samples::F64($x) => $body,
            }
            $at += p.len;
        }
    }};
}

/// The line through `run`, or `None` if a sample is not finite.
pub fn fit(run: &Run, traces: &[Trace<'_>]) -> Option<Line> {
    let n = run.len() as f64;
    let centre = (n - 1.0) / 2.0;
    let mut s = [0.0f64; 2];
    each_piece!(run, traces, |x, at| sums(x, at as f64 - centre, &mut s));
    if !(s[0].is_finite() && s[1].is_finite()) {
        return None;
    }
    let tt = n * (n * n - 1.0) / 12.0;
    Some(Line {
        mean: s[0] / n,
        slope: if tt > 0.0 { s[1] / tt } else { 0.0 },
        centre,
    })
}

fn subtract<T: Sample>(x: &[T], t0: f64, line: &Line, out: &mut [f32]) {
    let mut t: [f64; L] = std::array::from_fn(|l| t0 + l as f64);
    let mut outs = out.chunks_exact_mut(L);
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for (c, o) in chunks.zip(&mut outs) {
        for l in 0..L {
            o[l] = (c[l].to_f64() - line.mean - line.slope * t[l]) as f32;
            t[l] += L as f64;
        }
    }
    for ((v, o), tl) in rest.iter().zip(outs.into_remainder()).zip(t) {
        *o = (v.to_f64() - line.mean - line.slope * tl) as f32;
    }
}

/// Samples tapered at each end of a run of `n` samples at `rate` Hz (obspy's rule: the
/// shortest of `fraction * n`, `max_seconds * rate` and `n / 2`, each rounded down).
pub fn taper_len(n: usize, rate: f64, fraction: f64, max_seconds: f64) -> usize {
    let by_fraction = (fraction * n as f64) as usize;
    let by_length = (max_seconds * rate) as usize;
    by_fraction.min(by_length).min(n / 2)
}

/// Write the detrended, tapered run into `out` (`run.len()` samples). The taper rises as
/// `sin^2(pi k / (2 m))`, `k = 0..m`, from exactly 0 at the first sample (a Hann window of
/// `2 m + 1` points), and falls the same way at the end.
pub fn prepare(run: &Run, traces: &[Trace<'_>], line: &Line, m: usize, out: &mut [f32]) {
    each_piece!(run, traces, |x, at| subtract(
        x,
        at as f64 - line.centre,
        line,
        &mut out[at..at + x.len()]
    ));
    let n = out.len();
    for k in 0..m {
        let s = (std::f64::consts::PI * k as f64 / (2 * m) as f64).sin();
        let w = (s * s) as f32;
        out[k] *= w;
        out[n - 1 - k] *= w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::merge::runs;

    #[test]
    fn the_line_of_mixed_pieces_is_the_least_squares_line() {
        // 10 001 samples: an offset of 1e6 counts, a slope, and a sine, over two traces of
        // different sample types
        let n = 10_001;
        let f = |i: usize| 1e6 + 0.25 * i as f64 + 50.0 * (i as f64 * 0.01).sin();
        let a: Vec<i32> = (0..6000).map(|i| f(i).round() as i32).collect();
        let b: Vec<f64> = (6000..n).map(|i| f(i).round()).collect();
        let traces = [
            Trace {
                start: 0.0,
                rate: 1.0,
                samples: Samples::I32(&a),
            },
            Trace {
                start: 6000.0,
                rate: 1.0,
                samples: Samples::F64(&b),
            },
        ];
        let run = runs(&traces).remove(0);
        let line = fit(&run, &traces).unwrap();
        // numpy-style reference: polyfit by normal equations in f64
        let x: Vec<f64> = (0..n).map(|i| f(i).round()).collect();
        let tm = (n - 1) as f64 / 2.0;
        let mean = x.iter().sum::<f64>() / n as f64;
        let num: f64 = x
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64 - tm) * (v - mean))
            .sum();
        let den: f64 = (0..n).map(|i| (i as f64 - tm).powi(2)).sum();
        assert!((line.mean - mean).abs() < 1e-6);
        assert!((line.slope - num / den).abs() < 1e-12);
        let mut out = vec![0.0f32; n];
        prepare(&run, &traces, &line, 0, &mut out);
        for (i, &v) in out.iter().enumerate() {
            let want = x[i] - mean - num / den * (i as f64 - tm);
            assert!((v as f64 - want).abs() < 1e-4, "{i}: {v} vs {want}");
        }
    }

    #[test]
    fn a_non_finite_sample_is_reported() {
        let a = [1.0f32, f32::NAN, 2.0];
        let traces = [Trace {
            start: 0.0,
            rate: 1.0,
            samples: Samples::F32(&a),
        }];
        assert_eq!(fit(&runs(&traces)[0], &traces), None);
    }

    #[test]
    fn the_taper_is_obspys_hann_taper() {
        assert_eq!(taper_len(100_000, 100.0, 0.05, 60.0), 5000);
        assert_eq!(taper_len(1_000_000, 100.0, 0.05, 60.0), 6000);
        assert_eq!(taper_len(7, 100.0, 0.9, 60.0), 3);
        let ones = vec![1i32; 50];
        let traces = [Trace {
            start: 0.0,
            rate: 1.0,
            samples: Samples::I32(&ones),
        }];
        let run = runs(&traces).remove(0);
        let line = Line {
            mean: 0.0,
            slope: 0.0,
            centre: 24.5,
        };
        let mut out = vec![0.0f32; 50];
        prepare(&run, &traces, &line, 10, &mut out);
        // scipy.signal.windows.hann(21)[:10], i.e. 0.5 - 0.5 cos(pi k / 10)
        for k in 0..10 {
            let want = 0.5 - 0.5 * (std::f64::consts::PI * k as f64 / 10.0).cos();
            assert!((out[k] as f64 - want).abs() < 1e-7);
            assert_eq!(out[k], out[49 - k]);
        }
        assert!(out[10..40].iter().all(|&v| v == 1.0));
    }
}
