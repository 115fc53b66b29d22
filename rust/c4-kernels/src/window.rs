//! Cutting a day into windows and preparing each window: detrend, QC statistics, taper.

use crate::error::{ensure, Result};
use rayon::prelude::*;
use std::cmp::Ordering::{Equal, Less};

/// How a day record is cut into windows (all lengths in samples).
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Samples per window (`cc_len * fs`).
    pub len: usize,
    /// Samples between window starts (`step * fs`).
    pub step: usize,
    /// Cosine-taper weights, `len` long (see [`cosine_taper`]).
    pub taper: Vec<f32>,
    /// Samples tapered at each end (the weights in between are exactly 1).
    pub taper_len: usize,
    /// Without a gap mask, runs of at least this many exact zeros count as gap samples (how
    /// gaps are zero-filled); 0 turns the detection off.
    pub zero_run: usize,
}

impl WindowSpec {
    /// Window of `len` samples every `step` samples with `taper_fraction` of `len` tapered at
    /// each end; see [`WindowSpec::zero_run`].
    pub fn new(len: usize, step: usize, taper_fraction: f64, zero_run: usize) -> Result<Self> {
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
        let m = ((taper_fraction * len as f64).round() as usize).min(len / 2);
        Ok(Self {
            len,
            step,
            taper: cosine_taper(len, m),
            taper_len: m,
            zero_run,
        })
    }

    /// Multiply a window by the taper in place (only its tapered ends change).
    #[inline(always)]
    pub fn apply_taper(&self, x: &mut [f32]) {
        let (m, n) = (self.taper_len, x.len());
        for (v, w) in x[..m].iter_mut().zip(&self.taper) {
            *v *= w;
        }
        for (v, w) in x[n - m..].iter_mut().zip(&self.taper[n - m..]) {
            *v *= w;
        }
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

/// Quality statistics of one window.
///
/// `std` is measured on the detrended window. The peak ratios are measured on the QC signal:
/// the window itself (detrended), or the band-limited day record cut to the window when the
/// spectra step has a QC band (see [`crate::dayprep`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowQc {
    /// Standard deviation (RMS after detrend) of the window, in data units.
    pub std: f32,
    /// max |y| / std(y) over the window, `y` the QC signal (infinite for a flat window).
    pub max_ratio: f32,
    /// max |y| over the window / std of `y` over the day's covered samples: NoisePy's
    /// `max_over_std` (infinite for a flat day).
    pub max_over_std: f32,
    /// Fraction of samples flagged as gaps, in [0, 1].
    pub gap_fraction: f32,
}

/// Why a window was rejected; the first that applies, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Rejection {
    /// Passed QC.
    Valid = 0,
    /// Share of gap samples above `max_gap_fraction`.
    Gaps = 1,
    /// Zero (or non-finite) standard deviation.
    Flat = 2,
    /// `max_ratio` above `max_std_ratio` (a transient relative to the window's own level).
    MaxStdRatio = 3,
    /// `max_over_std` above its limit (a transient relative to the day's level, NoisePy).
    MaxOverStd = 4,
}

impl Rejection {
    /// Names of the reasons, indexed by the enum's value (`valid` first).
    pub const NAMES: [&'static str; 5] = ["valid", "gaps", "flat", "max_std_ratio", "max_over_std"];
}

/// The QC thresholds of a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QcLimits {
    /// Windows with a larger share of gap samples are rejected, in [0, 1].
    pub max_gap_fraction: f32,
    /// Windows whose `max_ratio` exceeds this are rejected (> 0; infinity: off).
    pub max_std_ratio: f32,
    /// Windows whose `max_over_std` exceeds this are rejected (> 0; infinity: off).
    pub max_over_std: f32,
}

impl QcLimits {
    /// Limits that reject only gaps above `max_gap_fraction` and flat windows.
    pub fn gaps_only(max_gap_fraction: f32) -> Self {
        Self {
            max_gap_fraction,
            max_std_ratio: f32::INFINITY,
            max_over_std: f32::INFINITY,
        }
    }
}

impl WindowQc {
    /// Why the window fails `limits`, or [`Rejection::Valid`].
    pub fn rejection(&self, limits: &QcLimits) -> Rejection {
        // NaN statistics exceed every limit.
        let exceeds = |v: f32, limit: f32| !matches!(v.partial_cmp(&limit), Some(Less | Equal));
        if exceeds(self.gap_fraction, limits.max_gap_fraction) {
            Rejection::Gaps
        } else if !(self.std > 0.0 && self.std.is_finite()) {
            Rejection::Flat
        } else if exceeds(self.max_ratio, limits.max_std_ratio) {
            Rejection::MaxStdRatio
        } else if exceeds(self.max_over_std, limits.max_over_std) {
            Rejection::MaxOverStd
        } else {
            Rejection::Valid
        }
    }

    /// Whether the window passes `limits`.
    pub fn is_valid(&self, limits: &QcLimits) -> bool {
        self.rejection(limits) == Rejection::Valid
    }
}

/// Samples summed in f32 SIMD lanes before the partial sums are carried over into f64: short
/// enough for f32 to stay exact to ~1e-7 relative, long enough to keep f64 work negligible.
const BLOCK: usize = 256;
/// Independent f32 partial sums per block, one per SIMD lane (the compiler does not reorder
/// floating-point additions by itself).
const LANES: usize = 8;

/// `[0, 1, 2, ..., BLOCK - 1]` as f32: the index within a block, without per-sample integer
/// conversions in the hot loops.
const RAMP: [f32; BLOCK] = {
    let mut r = [0.0f32; BLOCK];
    let mut k = 0;
    while k < BLOCK {
        r[k] = k as f32;
        k += 1;
    }
    r
};

/// `(Σ x, Σ k·x)` over one block, `k` the index within the block.
#[inline(always)]
fn block_sums(block: &[f32]) -> (f32, f32) {
    let (mut s, mut ks) = ([0.0f32; LANES], [0.0f32; LANES]);
    let groups = block.chunks_exact(LANES);
    let tail = groups.remainder();
    // Two passes over the block, which sits in L1: with both sums in one loop the compiler
    // pairs each lane's two accumulators instead of filling vectors with eight lanes (4x slower).
    for group in groups.clone() {
        for l in 0..LANES {
            s[l] += group[l];
        }
    }
    for (group, ramp) in groups.zip(RAMP.chunks_exact(LANES)) {
        for l in 0..LANES {
            ks[l] += ramp[l] * group[l];
        }
    }
    let base = block.len() - tail.len();
    let mut sum: f32 = s.iter().sum();
    let mut ksum: f32 = ks.iter().sum();
    for (&v, &k) in tail.iter().zip(&RAMP[base..]) {
        sum += v;
        ksum += k * v;
    }
    (sum, ksum)
}

/// `(Σ x², max |x|)` over one block.
#[inline(always)]
fn block_power(block: &[f32]) -> (f32, f32) {
    let (mut ss, mut peak) = ([0.0f32; LANES], [0.0f32; LANES]);
    let groups = block.chunks_exact(LANES);
    let tail = groups.remainder();
    for group in groups {
        for l in 0..LANES {
            ss[l] += group[l] * group[l];
            // As `f32::max` (a NaN sample is skipped; the running peak is never NaN), but
            // compiles to one vector max instead of a max plus a NaN test and blend.
            let a = group[l].abs();
            peak[l] = if a > peak[l] { a } else { peak[l] };
        }
    }
    let mut sum: f32 = ss.iter().sum();
    let mut max = peak.iter().fold(0.0f32, |a, &b| a.max(b));
    for &v in tail {
        sum += v * v;
        max = max.max(v.abs());
    }
    (sum, max)
}

/// Write `x` minus its least-squares line (mean and slope; sums carried in f64) to `out`, and
/// return the QC statistics of the result: its standard deviation and max|out| / std.
#[inline(always)]
pub fn detrend_into(x: &[f32], out: &mut [f32]) -> (f32, f32) {
    let n = x.len();
    assert_eq!(
        out.len(),
        n,
        "detrend_into: output and input lengths differ"
    );
    // Σx and Σ i·x, with i the index from 0.
    let (mut sum, mut isum) = (0.0f64, 0.0f64);
    for (b, block) in x.chunks(BLOCK).enumerate() {
        let (s, ks) = block_sums(block);
        sum += f64::from(s);
        isum += f64::from(ks) + (b * BLOCK) as f64 * f64::from(s);
    }
    let nf = n.max(1) as f64;
    let centre = (nf - 1.0) / 2.0;
    // Σ (i - centre)² = n (n² - 1) / 12
    let stt = nf * (nf * nf - 1.0) / 12.0;
    let mean = sum / nf;
    let slope = if stt > 0.0 {
        (isum - centre * sum) / stt
    } else {
        0.0
    };
    let step = slope as f32;
    let (mut power, mut max) = (0.0f64, 0.0f32);
    for (b, (src, dst)) in x.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
        // The line at the block start in f64, then small exact f32 offsets within the block.
        let line0 = (mean + slope * ((b * BLOCK) as f64 - centre)) as f32;
        for ((o, v), k) in dst.iter_mut().zip(src).zip(&RAMP) {
            *o = v - (line0 + step * k);
        }
        // The block is still in L1: its statistics cost no memory traffic.
        let (ss, peak) = block_power(dst);
        power += f64::from(ss);
        max = max.max(peak);
    }
    let std = (power / nf).sqrt() as f32;
    let ratio = if std > 0.0 { max / std } else { f32::INFINITY };
    (std, ratio)
}

/// Share of a window's samples that are gaps: from the mask when there is one, else the
/// samples in runs of at least `zero_run` exact zeros.
#[inline(always)]
pub fn window_gap_fraction(x: &[f32], gaps: Option<&[bool]>, zero_run: usize) -> f32 {
    match gaps {
        Some(g) => gap_fraction(g),
        None => zero_run_fraction(x, zero_run),
    }
}

/// Share of samples in runs of at least `min_run` consecutive exact zeros (0 if `min_run` is 0).
///
/// Blocks of samples without a zero, the common case, are recognised with one vectorised test
/// and end any run; only blocks holding a zero are walked sample by sample.
#[inline(always)]
pub fn zero_run_fraction(x: &[f32], min_run: usize) -> f32 {
    const BLOCK: usize = 64;
    if min_run == 0 || x.is_empty() {
        return 0.0;
    }
    let (mut total, mut run) = (0usize, 0usize);
    for block in x.chunks(BLOCK) {
        let zeros: u32 = block.iter().map(|&v| u32::from(v == 0.0)).sum();
        if zeros == 0 {
            if run >= min_run {
                total += run;
            }
            run = 0;
            continue;
        }
        for &v in block {
            if v == 0.0 {
                run += 1;
            } else {
                if run >= min_run {
                    total += run;
                }
                run = 0;
            }
        }
    }
    if run >= min_run {
        total += run;
    }
    total as f32 / x.len() as f32
}

/// Fraction of `true` entries in a gap mask.
#[inline(always)]
pub fn gap_fraction(gaps: &[bool]) -> f32 {
    if gaps.is_empty() {
        return 0.0;
    }
    gaps.iter().filter(|&&g| g).count() as f32 / gaps.len() as f32
}

/// Check that `data` (and `gaps`, when given) hold `n_channels x n_samples` values.
pub fn check_records(
    data: &[f32],
    n_channels: usize,
    n_samples: usize,
    gaps: Option<&[bool]>,
) -> Result<()> {
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
    Ok(())
}

/// Cut every channel of a `(n_channels, n_samples)` record into windows and prepare them
/// (detrend, QC, taper), as the spectra step does without a QC band. Returns
/// `(channel, window, sample)` windows and the `(channel, window)` QC (`max_over_std` is left
/// infinite: it needs the day's level, see [`crate::dayprep`]).
pub fn prepare_all(
    data: &[f32],
    n_channels: usize,
    n_samples: usize,
    gaps: Option<&[bool]>,
    spec: &WindowSpec,
) -> Result<(Vec<f32>, Vec<WindowQc>)> {
    check_records(data, n_channels, n_samples, gaps)?;
    let n_windows = spec.count(n_samples);
    let mut out = vec![0.0f32; n_channels * n_windows * spec.len];
    let qc = out
        .par_chunks_mut(spec.len.max(1))
        .enumerate()
        .map(|(k, w)| {
            let start = (k / n_windows) * n_samples + (k % n_windows) * spec.step;
            let range = start..start + spec.len;
            let (std, max_ratio) = detrend_into(&data[range.clone()], w);
            spec.apply_taper(w);
            WindowQc {
                std,
                max_ratio,
                max_over_std: f32::INFINITY,
                gap_fraction: window_gap_fraction(
                    &data[range.clone()],
                    gaps.map(|g| &g[range]),
                    spec.zero_run,
                ),
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
        let x: Vec<f32> = (0..1000).map(|i| 3.0 + 0.25 * i as f32).collect();
        let mut out = vec![f32::NAN; x.len()];
        let (std, _) = detrend_into(&x, &mut out);
        assert!(out.iter().all(|v| v.abs() < 1e-3) && std < 1e-3);
    }

    #[test]
    fn window_count_and_taper_shape() {
        let spec = WindowSpec::new(100, 25, 0.1, 0).unwrap();
        assert_eq!(spec.count(99), 0);
        assert_eq!(spec.count(100), 1);
        assert_eq!(spec.count(200), 5);
        assert!(spec.taper[0] > 0.0 && spec.taper[0] < 0.05);
        assert_eq!(spec.taper[50], 1.0);
        assert_eq!(spec.taper[3], spec.taper[96]);
    }

    #[test]
    fn zero_runs_across_block_edges_count_like_a_sample_walk() {
        let mut state = 11u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state >> 16
        };
        for _ in 0..200 {
            let n = 1 + next() as usize % 700;
            let mut x = vec![1.0f32; n];
            for _ in 0..next() % 6 {
                let start = next() as usize % n;
                let len = next() as usize % 150;
                x[start..(start + len).min(n)].fill(0.0);
            }
            let min_run = 1 + next() as usize % 40;
            let mut want = 0;
            let mut i = 0;
            while i < n {
                let run = x[i..].iter().take_while(|&&v| v == 0.0).count();
                if run >= min_run {
                    want += run;
                }
                i += run.max(1);
            }
            assert_eq!(zero_run_fraction(&x, min_run), want as f32 / n as f32);
        }
    }

    #[test]
    fn zero_runs_count_as_gaps_only_when_long_enough() {
        let mut x = vec![1.0f32; 100];
        x[10..30].fill(0.0); // a zero-filled gap of 20 samples
        x[50] = 0.0; // a single zero crossing sample
        assert_eq!(zero_run_fraction(&x, 5), 0.2);
        assert_eq!(zero_run_fraction(&x, 0), 0.0);
        x[90..].fill(0.0);
        assert_eq!(zero_run_fraction(&x, 5), 0.3);
    }

    #[test]
    fn flat_window_is_invalid() {
        let (std, ratio) = detrend_into(&[2.0; 8], &mut [0.0; 8]);
        let qc = WindowQc {
            std,
            max_ratio: ratio,
            max_over_std: ratio,
            gap_fraction: 0.0,
        };
        assert_eq!(qc.rejection(&QcLimits::gaps_only(0.0)), Rejection::Flat);
        let gappy = WindowQc {
            gap_fraction: 0.5,
            ..qc
        };
        assert_eq!(gappy.rejection(&QcLimits::gaps_only(0.1)), Rejection::Gaps);
    }
}
