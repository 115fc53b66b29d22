//! One channel-day onto the day grid: the per-sample work of preprocessing.
//!
//! [`to_grid`] takes the traces a decoder delivered for one channel (samples as `i32`, `f32`
//! or `f64`, each with its own start time and rate) and fills one row of the day's records:
//!
//! 1. [`merge::runs`]: traces join into contiguous runs (obspy's `merge(method=1)` rules); each
//!    run is trimmed to the day plus [`GridSpec::margin`] seconds at each end;
//! 2. per run, [`detrend`]: demean, linear detrend (the line in f64) and a Hann taper of
//!    `min(taper_fraction * n, taper_max * rate)` samples at each end;
//! 3. onto the grid `t_k = k / fs` with the [`lowpass::Lowpass`] anti-alias filter
//!    ([`resample`]): a copy when the rates are equal and the samples fall on the grid, a
//!    polyphase decimation for integer ratios (100 -> 20 Hz, 40 -> 20 Hz) at whatever fractional
//!    phase the run starts, and table-interpolated resampling for any other ratio (50 Hz, or a
//!    clock that runs at 40.000016 Hz);
//! 4. optionally [`response::remove`] on the output grid;
//! 5. grid samples inside a run's time span (from its first to its last sample) are data; the
//!    rest stay 0 and are flagged in the gap mask. Where runs overlap on the grid the later one
//!    wins.
//!
//! Everything runs on the calling thread (callers run channels in parallel), in f32 except the
//! time arithmetic, the line fit and the filter design, which are f64.

pub mod detrend;
pub mod lowpass;
pub mod merge;
pub mod resample;
pub mod response;

use crate::error::{ensure, Result};
use lowpass::{Lowpass, V};
pub use response::Response;
use std::cell::RefCell;

/// Decoded samples of one trace.
#[derive(Debug, Clone, Copy)]
pub enum Samples<'a> {
    I32(&'a [i32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl<'a> Samples<'a> {
    pub fn len(&self) -> usize {
        match self {
            Samples::I32(x) => x.len(),
            Samples::F32(x) => x.len(),
            Samples::F64(x) => x.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples `start..start + len`.
    pub fn slice(&self, start: usize, len: usize) -> Samples<'a> {
        match *self {
            Samples::I32(x) => Samples::I32(&x[start..start + len]),
            Samples::F32(x) => Samples::F32(&x[start..start + len]),
            Samples::F64(x) => Samples::F64(&x[start..start + len]),
        }
    }
}

/// One decoded trace: sample `i` at `start + i / rate` seconds after the grid's first sample.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    pub start: f64,
    /// Sampling rate, Hz.
    pub rate: f64,
    pub samples: Samples<'a>,
}

/// The day grid and the per-run processing settings.
#[derive(Debug, Clone)]
pub struct GridSpec {
    /// Output rate, Hz.
    pub fs: f64,
    /// Grid samples (the day is `npts / fs` seconds).
    pub npts: usize,
    /// Seconds kept beyond each end of the day before detrending and tapering.
    pub margin: f64,
    /// Taper length at each end as a fraction of the run, at most 0.5.
    pub taper_fraction: f64,
    /// Longest taper at each end, s.
    pub taper_max: f64,
}

impl GridSpec {
    fn check(&self, out: usize, gaps: usize) -> Result<()> {
        ensure(self.fs.is_finite() && self.fs > 0.0, "fs", || {
            format!("must be a positive number of Hz, got {}", self.fs)
        })?;
        ensure(self.npts > 0, "npts", || "the grid needs samples".into())?;
        ensure(out == self.npts && gaps == self.npts, "out", || {
            format!(
                "out and gaps must hold npts={} samples, got {out} and {gaps}",
                self.npts
            )
        })?;
        ensure(
            self.margin.is_finite() && self.margin >= 0.0,
            "margin",
            || format!("must be >= 0 s, got {}", self.margin),
        )?;
        ensure(
            (0.0..=0.5).contains(&self.taper_fraction),
            "taper_fraction",
            || format!("must lie in [0, 0.5], got {}", self.taper_fraction),
        )?;
        ensure(self.taper_max >= 0.0, "taper_max", || {
            format!("must be >= 0 s, got {}", self.taper_max)
        })
    }
}

/// How a run reached the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Same rate, samples on the grid: copied.
    Copy,
    /// Low-passed and decimated by this integer factor.
    Decimate(usize),
    /// Low-passed and resampled (any other ratio).
    Resample,
}

/// What happened to one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// First sample after trimming, s after the grid's first sample.
    pub start: f64,
    /// Input rate, Hz.
    pub rate: f64,
    /// Input samples after trimming.
    pub samples: usize,
    /// First grid sample written.
    pub first: usize,
    /// Grid samples written.
    pub count: usize,
    pub placement: Placement,
}

/// The outcome of [`to_grid`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GridReport {
    /// Grid samples with data.
    pub covered: usize,
    /// Runs placed on the grid, in time order.
    pub segments: Vec<Segment>,
    /// Runs left out because a sample was NaN or infinite.
    pub non_finite: usize,
}

thread_local! {
    /// The padded, detrended run of the calling thread, kept between calls so a day's channels
    /// do not fault in fresh pages for every run.
    static PADDED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Fill `out` (data, 0 in gaps) and `gaps` (true where no run has data) from `traces`; see the
/// module docs. `response`, if given, is removed on the output grid.
pub fn to_grid(
    traces: &[Trace<'_>],
    spec: &GridSpec,
    response: Option<&Response<'_>>,
    out: &mut [f32],
    gaps: &mut [bool],
) -> Result<GridReport> {
    spec.check(out.len(), gaps.len())?;
    for t in traces {
        ensure(t.rate.is_finite() && t.rate > 0.0, "rates", || {
            format!("sampling rates must be positive, got {}", t.rate)
        })?;
        ensure(t.start.is_finite(), "starts", || {
            "start times must be finite".into()
        })?;
    }
    if let Some(r) = response {
        r.check(spec.fs)?;
    }
    out.fill(0.0);
    gaps.fill(true);
    let mut report = GridReport::default();
    let day = spec.npts as f64 / spec.fs;
    for mut run in merge::runs(traces) {
        let (s, r, n) = (run.start, run.rate, run.len() as f64);
        let lo = (((-spec.margin - s) * r - 1e-6).ceil()).max(0.0);
        let hi = (((day + spec.margin - s) * r + 1e-6).floor() + 1.0).min(n);
        if hi - lo < 2.0 {
            continue;
        }
        run.keep(lo as usize, hi as usize);
        let Some(line) = detrend::fit(&run, traces) else {
            report.non_finite += 1;
            continue;
        };
        if let Some(seg) = place(&run, traces, &line, spec, response, out) {
            gaps[seg.first..seg.first + seg.count].fill(false);
            report.segments.push(seg);
        }
    }
    report.covered = gaps.iter().filter(|&&g| !g).count();
    Ok(report)
}

/// Grid samples `ka..=kb` inside the run's time span (unclipped).
fn grid_span(run: &merge::Run, fs: f64) -> (i64, i64) {
    let last = run.start + (run.len() - 1) as f64 / run.rate;
    (
        (run.start * fs - 1e-6).ceil() as i64,
        (last * fs + 1e-6).floor() as i64,
    )
}

/// Detrend, taper, filter and place one run; `None` if it misses the day.
fn place(
    run: &merge::Run,
    traces: &[Trace<'_>],
    line: &detrend::Line,
    spec: &GridSpec,
    response: Option<&Response<'_>>,
    out: &mut [f32],
) -> Option<Segment> {
    let (fs, r, n) = (spec.fs, run.rate, run.len());
    let (span_a, span_b) = grid_span(run, fs);
    let (day_a, day_b) = (span_a.max(0), span_b.min(spec.npts as i64 - 1));
    if day_b < day_a {
        return None;
    }
    // With a response to remove, the whole run goes onto the grid (margins included).
    let (ka, kb) = if response.is_some() {
        (span_a, span_b)
    } else {
        (day_a, day_b)
    };
    let count = (kb - ka + 1) as usize;
    let ratio = r / fs;
    let q = ratio.round();
    let p0 = (ka as f64 / fs - run.start) * r;
    let integer = q >= 1.0 && (ratio - q).abs() * count as f64 <= 1e-3;
    let (mut i0, mut mu) = (p0.floor(), p0 - p0.floor());
    if (p0 - p0.round()).abs() < 1e-6 {
        (i0, mu) = (p0.round(), 0.0);
    }
    let placement = match (integer, q as usize, mu == 0.0) {
        (true, 1, true) => Placement::Copy,
        (true, q, _) => Placement::Decimate(q),
        (false, _, _) => Placement::Resample,
    };
    let lp = (placement != Placement::Copy).then(|| Lowpass::new(r, fs));
    let pad = lp.as_ref().map_or(0, |l| l.half_width + V);
    let right = lp.as_ref().map_or(1, |l| l.len() + 4 * q as usize + V);
    let taper = detrend::taper_len(n, r, spec.taper_fraction, spec.taper_max);
    let mut tmp = Vec::new();
    let y: &mut [f32] = if response.is_some() {
        tmp.resize(count, 0.0f32);
        &mut tmp
    } else {
        &mut out[ka as usize..=kb as usize]
    };
    PADDED.with_borrow_mut(|buf| {
        let need = pad + n + right;
        if buf.len() < need {
            buf.resize(need, 0.0);
        }
        let x = &mut buf[..need];
        x[..pad].fill(0.0);
        x[pad + n..].fill(0.0);
        detrend::prepare(run, traces, line, taper, &mut x[pad..pad + n]);
        let i0 = i0 as usize;
        match (placement, &lp) {
            (Placement::Copy, _) => y.copy_from_slice(&x[i0..i0 + count]),
            (Placement::Decimate(q), Some(lp)) => {
                let taps = lp.taps(mu);
                resample::decimate(x, pad + i0 - lp.half_width, q, &taps, y);
            }
            (_, Some(lp)) => resample::resample(x, pad, lp, &lp.table(), p0, ratio, y),
            (_, None) => unreachable!("every filtered placement has a low-pass"),
        }
    });
    if let Some(resp) = response {
        response::remove(y, fs, resp);
        let from = (day_a - ka) as usize;
        let len = (day_b - day_a + 1) as usize;
        out[day_a as usize..=day_b as usize].copy_from_slice(&tmp[from..from + len]);
    }
    Some(Segment {
        start: run.start,
        rate: r,
        samples: n,
        first: day_a as usize,
        count: (day_b - day_a + 1) as usize,
        placement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn spec(fs: f64, npts: usize) -> GridSpec {
        GridSpec {
            fs,
            npts,
            margin: 60.0,
            taper_fraction: 0.05,
            taper_max: 60.0,
        }
    }

    fn sine(f: f64, rate: f64, t0: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 1e4 * (2.0 * PI * f * (t0 + i as f64 / rate)).sin())
            .collect()
    }

    /// Counts of a sine with an offset of 3e5.
    fn sine_i32(f: f64, rate: f64, t0: f64, n: usize) -> Vec<i32> {
        sine(f, rate, t0, n)
            .iter()
            .map(|v| (v + 3e5).round() as i32)
            .collect()
    }

    /// The least-squares line through `x` as (mean, slope per sample, centre sample).
    fn line(x: &[f64]) -> (f64, f64, f64) {
        let n = x.len() as f64;
        let c = (n - 1.0) / 2.0;
        let mean = x.iter().sum::<f64>() / n;
        let stx: f64 = x.iter().enumerate().map(|(i, v)| (i as f64 - c) * v).sum();
        (mean, stx / (n * (n * n - 1.0) / 12.0), c)
    }

    fn run(traces: &[Trace<'_>], spec: &GridSpec) -> (Vec<f32>, Vec<bool>, GridReport) {
        let (mut out, mut gaps) = (vec![7.0; spec.npts], vec![false; spec.npts]);
        let rep = to_grid(traces, spec, None, &mut out, &mut gaps).unwrap();
        (out, gaps, rep)
    }

    #[test]
    fn rates_reach_the_grid_by_copy_decimation_or_resampling() {
        // one hour of a 0.9 Hz sine from 100, 40, 40.000016, 50 and 20 Hz records onto 20 Hz;
        // 20.5 ms late at 100 Hz is a fractional start phase
        let g = spec(20.0, 72_000);
        for (rate, t0, placement) in [
            (100.0, 0.0, Placement::Decimate(5)),
            (100.0, 0.0205, Placement::Decimate(5)),
            (40.0, 0.0, Placement::Decimate(2)),
            (40.000016, 0.0, Placement::Resample),
            (50.0, 0.0, Placement::Resample),
            (20.0, 0.0, Placement::Copy),
        ] {
            let n = (3600.0 * rate) as usize;
            let x = sine_i32(0.9, rate, t0, n);
            let traces = [Trace {
                start: t0,
                rate,
                samples: Samples::I32(&x),
            }];
            let (out, gaps, rep) = run(&traces, &g);
            assert_eq!(rep.segments.len(), 1);
            assert_eq!(rep.segments[0].placement, placement, "{rate} Hz");
            let last = t0 + (n - 1) as f64 / rate;
            let covered = ((last * 20.0 + 1e-6).floor() as usize + 1).min(72_000)
                - (t0 * 20.0 - 1e-6).ceil() as usize;
            assert_eq!(rep.covered, covered, "{rate} Hz");
            assert!(gaps[1..covered].iter().all(|&g| !g));
            // away from the tapers the grid holds the detrended sine at the grid times, within
            // the counts' rounding noise (std ~0.2 counts after the low-pass)
            let (mean, slope, c) = line(&sine(0.9, rate, t0, n));
            let mut sq = 0.0;
            for (k, &v) in out.iter().enumerate().take(48_000).skip(24_000) {
                let t = k as f64 / 20.0;
                let trend = mean + slope * ((t - t0) * rate - c);
                let want = 1e4 * (2.0 * PI * 0.9 * t).sin() - trend;
                let err = v as f64 - want;
                assert!(err.abs() < 1.5, "{rate} Hz, {k}: {v} vs {want}");
                sq += err * err;
            }
            let rms = (sq / 24_000.0).sqrt();
            assert!(rms < 0.3, "{rate} Hz: rms {rms}");
        }
    }

    #[test]
    fn gaps_are_zero_and_flagged_and_margins_are_trimmed() {
        let g = spec(10.0, 36_000);
        let a = sine_i32(0.3, 10.0, -100.0, 15_000 + 1000);
        let b = sine_i32(0.3, 10.0, 2000.0, 16_000 + 1000);
        let traces = [
            Trace {
                start: -100.0,
                rate: 10.0,
                samples: Samples::I32(&a),
            },
            Trace {
                start: 2000.0,
                rate: 10.0,
                samples: Samples::I32(&b),
            },
        ];
        let (out, gaps, rep) = run(&traces, &g);
        // a covers [-100, 1499.9] s -> grid 0..15000; b [2000, 3699.9] -> 20000..36000
        assert_eq!(rep.segments.len(), 2);
        assert_eq!((rep.segments[0].first, rep.segments[0].count), (0, 15_000));
        assert_eq!(
            (rep.segments[1].first, rep.segments[1].count),
            (20_000, 16_000)
        );
        // trimmed to 60 s before the day and after its end (both ends included)
        assert_eq!(rep.segments[0].start, -60.0);
        assert_eq!(rep.segments[1].samples, 16_000 + 600 + 1);
        assert!(gaps[15_000..20_000].iter().all(|&g| g));
        assert!(out[15_000..20_000].iter().all(|&v| v == 0.0));
        assert_eq!(rep.covered, 31_000);
    }

    #[test]
    fn runs_outside_the_day_or_not_finite_are_left_out() {
        let g = spec(10.0, 1000);
        let far = vec![1i32; 100];
        let bad = [1.0f64, f64::INFINITY, 2.0];
        let traces = [
            Trace {
                start: 500.0,
                rate: 10.0,
                samples: Samples::I32(&far),
            },
            Trace {
                start: 10.0,
                rate: 10.0,
                samples: Samples::F64(&bad),
            },
        ];
        let (out, gaps, rep) = run(&traces, &g);
        assert_eq!(rep.non_finite, 1);
        assert!(rep.segments.is_empty() && rep.covered == 0);
        assert!(gaps.iter().all(|&g| g) && out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bad_arguments_name_themselves() {
        let x = [1i32; 10];
        let ok = [Trace {
            start: 0.0,
            rate: 10.0,
            samples: Samples::I32(&x),
        }];
        let (mut out, mut gaps) = (vec![0.0; 10], vec![true; 10]);
        let err = to_grid(&ok, &spec(10.0, 11), None, &mut out, &mut gaps).unwrap_err();
        assert!(err.to_string().starts_with("out:"));
        let bad = [Trace { rate: 0.0, ..ok[0] }];
        let err = to_grid(&bad, &spec(10.0, 10), None, &mut out, &mut gaps).unwrap_err();
        assert!(err.to_string().starts_with("rates:"));
    }

    #[test]
    fn a_flat_response_scales_the_day() {
        let g = spec(20.0, 36_000);
        let x = sine_i32(0.5, 100.0, 0.0, 180_000);
        let traces = [Trace {
            start: 0.0,
            rate: 100.0,
            samples: Samples::I32(&x),
        }];
        let values = vec![num_complex::Complex64::new(2000.0, 0.0); 1001];
        let resp = Response {
            values: &values,
            f0: 0.0,
            df: 0.01,
            pre_filt: [0.05, 0.1, 5.0, 8.0],
            water_level_db: 60.0,
        };
        let (mut out, mut gaps) = (vec![0.0; g.npts], vec![true; g.npts]);
        let rep = to_grid(&traces, &g, Some(&resp), &mut out, &mut gaps).unwrap();
        assert_eq!(rep.covered, 36_000);
        // the pre-filter removes what is left of the fitted line (below 0.05 Hz)
        for (k, &v) in out.iter().enumerate().take(24_000).skip(12_000) {
            let want = 1e4 / 2000.0 * (2.0 * PI * 0.5 * k as f64 / 20.0).sin();
            assert!((v as f64 - want).abs() < 1e-3, "{k}: {v} vs {want}");
        }
    }
}
