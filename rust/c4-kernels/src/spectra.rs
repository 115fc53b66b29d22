//! Day records to whitened in-band window spectra: step 4 of a shard's data flow.

use crate::bandpass::ButterBand;
use crate::dayprep::{prepare_day, DayOptions, DayPrep, Mute, RmaBand};
use crate::error::{ensure, invalid, Result};
use crate::fft;
use crate::normalize::{time_normalize, TimeNormParams};
use crate::options::{FreqNorm, TimeNorm};
use crate::packed::{put_chunk, AlignedBuf, Layout, CHUNK, LANES};
use crate::smooth::{half_width, running_mean};
use crate::whiten::{self, whiten, Band};
use crate::window::{
    check_records, detrend_into, window_gap_fraction, QcLimits, WindowQc, WindowSpec,
};
use num_complex::Complex32;
use rayon::prelude::*;
use rustfft::Fft;
use std::ops::Range;
use std::sync::Arc;

/// What the spectra hold per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpectraKind {
    /// The whitened window's in-band bins of the `nfft / 2 + 1` half-spectrum.
    Band,
    /// For phase cross-correlation: all `nfft` bins of the complex FFT of the unit phasor
    /// `φ(t) = a(t) / |a(t)|` of the whitened window's analytic signal `a` (band bins only),
    /// `φ = 0` in the zero padding.
    Phase,
}

/// Everything that turns a record into window spectra.
#[derive(Debug, Clone)]
pub struct SpectraParams {
    /// Sampling rate in Hz.
    pub fs: f64,
    /// Window cutting and taper.
    pub window: WindowSpec,
    /// FFT length (>= window length; the window is zero-padded).
    pub nfft: usize,
    /// Kept bins and their band weights.
    pub band: Band,
    /// Time-domain normalisation.
    pub time_norm: TimeNormParams,
    /// Spectral whitening.
    pub freq_norm: FreqNorm,
    /// Smoothing length in bins for `rma` whitening (>= 1).
    pub smoothspect_n: usize,
    /// Window QC thresholds.
    pub qc: QcLimits,
    /// The day pass: QC band, `rma` bands, mute.
    pub day: DayOptions,
    /// What the spectra hold.
    pub kind: SpectraKind,
}

impl SpectraParams {
    /// Check the parameters that [`WindowSpec`] and [`Band`] do not check themselves.
    pub fn validate(&self) -> Result<()> {
        ensure(self.nfft >= self.window.len, "nfft", || {
            format!(
                "{} is shorter than the window ({})",
                self.nfft, self.window.len
            )
        })?;
        ensure(self.time_norm.smooth_n >= 1, "smooth_n", || {
            "must be at least 1 sample".into()
        })?;
        ensure(self.smoothspect_n >= 1, "smoothspect_n", || {
            "must be at least 1 bin".into()
        })?;
        ensure(
            self.time_norm.clip_std > 0.0 && self.time_norm.clip_std.is_finite(),
            "clip_std",
            || format!("must be positive, got {}", self.time_norm.clip_std),
        )?;
        ensure(
            (0.0..=1.0).contains(&self.qc.max_gap_fraction),
            "max_gap_fraction",
            || format!("must lie in [0, 1], got {}", self.qc.max_gap_fraction),
        )?;
        ensure(self.qc.max_std_ratio > 0.0, "max_std_ratio", || {
            format!("must be positive, got {}", self.qc.max_std_ratio)
        })?;
        ensure(self.qc.max_over_std > 0.0, "max_over_std", || {
            format!("must be positive, got {}", self.qc.max_over_std)
        })?;
        if let Some(b) = &self.day.qc_band {
            b.validate("qc_band", self.fs)?;
        }
        for b in &self.day.rma_bands {
            b.band.validate("rma_band", self.fs)?;
            ensure(b.smooth_n >= 1, "smooth_n", || {
                "must be at least 1 sample".into()
            })?;
        }
        if let Some(m) = &self.day.mute {
            m.band.validate("mute_band", self.fs)?;
            ensure(
                m.factor > 1.0 && m.factor.is_finite(),
                "mute_factor",
                || format!("must be a finite number > 1, got {}", m.factor),
            )?;
        }
        match self.time_norm.method {
            TimeNorm::Multiband => ensure(!self.day.rma_bands.is_empty(), "time_norm", || {
                "multiband needs at least one band".into()
            })?,
            TimeNorm::Rma => ensure(self.day.rma_bands.len() <= 1, "rma_band", || {
                "rma takes one band".into()
            })?,
            _ => ensure(self.day.rma_bands.is_empty(), "rma_band", || {
                format!(
                    "applies to rma and multiband, not {}",
                    self.time_norm.method.as_str()
                )
            })?,
        }
        ensure(
            self.band.offset + self.band.len() <= self.nfft / 2 + 1,
            "nfft",
            || "band does not fit the spectrum".into(),
        )
    }
}

/// Spectra settings in physical units, as a user writes them (seconds, Hz).
#[derive(Debug, Clone)]
pub struct SpectraSettings {
    /// Sampling rate in Hz.
    pub fs: f64,
    /// Window length in s.
    pub cc_len: f64,
    /// Time between window starts in s.
    pub step: f64,
    /// Share of the window tapered at each end, in [0, 0.5].
    pub taper_fraction: f64,
    /// Largest lag in s that correlations will keep (sets the zero padding).
    pub maxlag: f64,
    /// Band edges in Hz.
    pub freqmin: f64,
    pub freqmax: f64,
    /// Cosine-squared taper width outside the band, in bins.
    pub taper_bins: usize,
    pub time_norm: TimeNormParams,
    pub freq_norm: FreqNorm,
    pub smoothspect_n: usize,
    pub max_gap_fraction: f32,
    pub max_std_ratio: f32,
    /// NoisePy's `max_over_std`: window peak over the day's std of the QC signal (infinity:
    /// off).
    pub max_over_std: f32,
    /// Band of the QC signal in Hz (`None`: the detrended window itself).
    pub qc_band: Option<(f64, f64)>,
    /// Band in Hz whose running absolute mean gives the `rma` weights (`None`: the window
    /// itself); for `multiband`, the range split into `multiband_n` sub-bands.
    pub rma_band: Option<(f64, f64)>,
    /// Log-spaced sub-bands of `multiband`.
    pub multiband_n: usize,
    /// Transient mute threshold in median envelopes (`None`: off) and its band in Hz.
    pub mute: Option<(f32, (f64, f64))>,
    /// What the spectra hold.
    pub kind: SpectraKind,
}

/// Log-spaced sub-bands of `fmin..fmax` Hz for `multiband`, each with a running mean over
/// half its longest period (Bensen et al. 2007), and at least `smooth_n` samples.
pub fn multiband(fmin: f64, fmax: f64, n: usize, fs: f64, smooth_n: usize) -> Vec<RmaBand> {
    let ratio = (fmax / fmin).powf(1.0 / n.max(1) as f64);
    (0..n)
        .map(|b| {
            let lo = fmin * ratio.powi(b as i32);
            RmaBand {
                band: ButterBand::new(lo, lo * ratio),
                smooth_n: ((fs / (2.0 * lo)).round() as usize).max(smooth_n),
            }
        })
        .collect()
}

/// Whole samples in `seconds` at `fs` Hz; errors if not a whole number (to 1e-6).
pub fn samples(name: &'static str, seconds: f64, fs: f64) -> Result<usize> {
    let n = seconds * fs;
    ensure(
        n.is_finite() && n >= 0.0 && (n - n.round()).abs() < 1e-6,
        name,
        || format!("{seconds} s is not a whole number of samples at {fs} Hz"),
    )?;
    Ok(n.round() as usize)
}

impl SpectraSettings {
    /// Convert to samples and bins: `nfft` is the smallest 5-smooth length that holds one window
    /// plus `maxlag` of zero padding, so lags up to `maxlag` are free of wrap-around.
    pub fn params(&self) -> Result<SpectraParams> {
        ensure(
            self.fs > 0.0 && self.fs.is_finite(),
            "sampling_rate",
            || format!("must be positive, got {}", self.fs),
        )?;
        let len = samples("cc_len", self.cc_len, self.fs)?;
        let step = samples("step", self.step, self.fs)?;
        let maxlag_n = samples("maxlag", self.maxlag, self.fs)?;
        ensure(maxlag_n < len, "maxlag", || {
            format!(
                "{} s must be shorter than cc_len ({} s)",
                self.maxlag, self.cc_len
            )
        })?;
        // A second or more of exact zeros is a zero-filled gap.
        let zero_run = (self.fs.round() as usize).max(2);
        let window = WindowSpec::new(len, step, self.taper_fraction, zero_run)?;
        let nfft = fft::fast_len(len + maxlag_n);
        let band = Band::new(self.fs, nfft, self.freqmin, self.freqmax, self.taper_bins)?;
        let butter = |(lo, hi): (f64, f64)| ButterBand::new(lo, hi);
        let rma_bands = match (self.time_norm.method, self.rma_band) {
            (TimeNorm::Multiband, range) => {
                ensure(self.multiband_n >= 1, "multiband_n", || {
                    "must be at least 1".into()
                })?;
                let (lo, hi) = range.unwrap_or((self.freqmin, self.freqmax));
                multiband(lo, hi, self.multiband_n, self.fs, self.time_norm.smooth_n)
            }
            (_, Some(range)) => vec![RmaBand {
                band: butter(range),
                smooth_n: self.time_norm.smooth_n,
            }],
            (_, None) => Vec::new(),
        };
        let day = DayOptions {
            qc_band: self.qc_band.map(butter),
            rma_bands,
            mute: self.mute.map(|(factor, range)| Mute {
                band: butter(range),
                factor,
            }),
            day_level: self.max_over_std.is_finite(),
        };
        let p = SpectraParams {
            fs: self.fs,
            window,
            nfft,
            band,
            time_norm: self.time_norm,
            freq_norm: self.freq_norm,
            smoothspect_n: self.smoothspect_n,
            qc: QcLimits {
                max_gap_fraction: self.max_gap_fraction,
                max_std_ratio: self.max_std_ratio,
                max_over_std: self.max_over_std,
            },
            day,
            kind: self.kind,
        };
        p.validate()?;
        Ok(p)
    }
}

/// Window spectra of many channels in the [`crate::packed`] layout.
#[derive(Debug, Clone)]
pub struct Spectra {
    /// Channels, windows and kept bins.
    pub layout: Layout,
    /// Index of the first kept bin in the `nfft / 2 + 1` half-spectrum.
    pub offset: usize,
    /// FFT length.
    pub nfft: usize,
    /// Whitened in-band spectra, packed, starting on a cache line; windows that failed QC are
    /// zero.
    pub packed: AlignedBuf,
    /// QC of every window, `(channel, window)`.
    pub qc: Vec<WindowQc>,
    /// Whether each window passed QC, `(channel, window)`.
    pub valid: Vec<bool>,
    /// What the spectra hold ([`SpectraKind::Phase`]: `offset` is 0 and the bins are all
    /// `nfft` bins of a complex FFT).
    pub kind: SpectraKind,
    /// Samples the transient mute set to zero, per channel.
    pub muted: Vec<usize>,
}

/// Compute whitened window spectra of `n_channels` records of `n_samples` samples each.
///
/// Per channel, when the parameters ask for it, a day pass ([`crate::dayprep`]): band-limited
/// copies of the record for QC and `rma` weights, the day's QC level, the transient mute.
/// Per window: linear detrend, QC statistics, time normalisation, taper, zero-pad to `nfft`,
/// FFT, whitening, keep the band's bins (or, for [`SpectraKind::Phase`], the spectrum of the
/// analytic signal's phasor). `gaps` (same shape as `data`) marks samples that were missing in
/// the raw data. Windows that fail QC are left zero. Channels run in parallel.
pub fn compute(
    data: &[f32],
    n_channels: usize,
    n_samples: usize,
    gaps: Option<&[bool]>,
    p: &SpectraParams,
) -> Result<Spectra> {
    p.validate()?;
    check_records(data, n_channels, n_samples, gaps)?;
    let n_windows = p.window.count(n_samples);
    if n_windows == 0 {
        return Err(invalid(
            "data",
            format!(
                "records of {n_samples} samples are shorter than one window ({})",
                p.window.len
            ),
        ));
    }
    let layout = Layout {
        n_channels,
        n_windows,
        n_bins: match p.kind {
            SpectraKind::Band => p.band.len(),
            SpectraKind::Phase => p.nfft,
        },
    };
    let mut packed = AlignedBuf::zeros(layout.len());
    let blank = WindowQc {
        std: 0.0,
        max_ratio: 0.0,
        max_over_std: 0.0,
        gap_fraction: 0.0,
    };
    let mut qc = vec![blank; n_channels * n_windows];
    let mut muted = vec![0usize; n_channels];
    let plan = fft::complex(p.nfft, false);
    let record = |c: usize| &data[c * n_samples..(c + 1) * n_samples];
    let record_gaps = |c: usize| gaps.map(|g| &g[c * n_samples..(c + 1) * n_samples]);
    let channels = packed
        .as_mut_slice()
        .par_chunks_mut(layout.channel_len())
        .zip(qc.par_chunks_mut(n_windows))
        .zip(muted.par_iter_mut())
        .enumerate();
    if p.day.is_empty() {
        // The fast path: every block of every channel is one task, no day pass.
        let none = DayPrep::default();
        channels
            .flat_map(|(c, ((dst, qc), _))| window_blocks(c, dst, qc, layout).into_par_iter())
            .for_each_init(
                || PairBuffers::new(p, &*plan),
                |bufs, mut block| {
                    let c = block.channel;
                    block_spectra(
                        record(c),
                        record_gaps(c),
                        &none,
                        p,
                        &*plan,
                        bufs,
                        &mut block,
                    )
                },
            );
    } else {
        // Channel by channel (in parallel), so only the channels in flight hold band-limited
        // copies of their day; the blocks of a channel run in parallel too.
        channels.for_each(|(c, ((dst, qc), muted))| {
            let day = prepare_day(record(c), record_gaps(c), p.fs, &p.window, &p.day);
            *muted = day.muted;
            window_blocks(c, dst, qc, layout)
                .into_par_iter()
                .for_each_init(
                    || PairBuffers::new(p, &*plan),
                    |bufs, mut block| {
                        block_spectra(record(c), record_gaps(c), &day, p, &*plan, bufs, &mut block)
                    },
                );
        });
    }
    let valid = qc.iter().map(|q| q.is_valid(&p.qc)).collect();
    Ok(Spectra {
        layout,
        offset: match p.kind {
            SpectraKind::Band => p.band.offset,
            SpectraKind::Phase => 0,
        },
        nfft: p.nfft,
        kind: p.kind,
        packed,
        qc,
        valid,
        muted,
    })
}

/// Windows per parallel task: a channel-day of NoisePy windows makes 24 tasks, so even a
/// network with fewer channels than cores keeps every core busy.
const WINDOW_BLOCK: usize = 8;

/// Windows `w0..w0 + qc.len()` of one channel: their QC slots and, for every chunk, the part of
/// the channel's packed region that holds them. Blocks of one channel never overlap, so they
/// are filled in parallel.
struct WindowBlock<'a> {
    channel: usize,
    w0: usize,
    qc: &'a mut [WindowQc],
    rows: Vec<&'a mut [f32]>,
}

impl WindowBlock<'_> {
    /// Write the kept bins of the block's `i`-th window.
    fn put(&mut self, i: usize, bins: &[Complex32]) {
        for (row, chunk) in self.rows.iter_mut().zip(bins.chunks(LANES)) {
            put_chunk(&mut row[i * CHUNK..][..CHUNK], chunk);
        }
    }
}

/// Split one channel's packed region `dst` and its QC slots into blocks of [`WINDOW_BLOCK`]
/// windows.
fn window_blocks<'a>(
    channel: usize,
    dst: &'a mut [f32],
    qc: &'a mut [WindowQc],
    layout: Layout,
) -> Vec<WindowBlock<'a>> {
    let mut blocks: Vec<WindowBlock<'a>> = qc
        .chunks_mut(WINDOW_BLOCK)
        .enumerate()
        .map(|(b, qc)| WindowBlock {
            channel,
            w0: b * WINDOW_BLOCK,
            qc,
            rows: Vec::with_capacity(layout.n_chunks()),
        })
        .collect();
    for row in dst.chunks_mut(layout.n_windows * CHUNK) {
        for (block, part) in blocks.iter_mut().zip(row.chunks_mut(WINDOW_BLOCK * CHUNK)) {
            block.rows.push(part);
        }
    }
    blocks
}

/// Per-thread work buffers. Two real windows share one complex FFT: `z = a + i·b` transforms
/// to `Z = A + i·B`, and `A[k] = (Z[k] + conj Z[N-k]) / 2`, `B[k] = (Z[k] - conj Z[N-k]) / 2i`
/// are separated only on the bins that whitening reads, which skips a real FFT's post-processing
/// of the whole half-spectrum.
struct PairBuffers {
    windows: [Vec<f32>; 2],
    z: Vec<Complex32>,
    scratch: Vec<Complex32>,
    spectra: [Vec<Complex32>; 2],
    bins: Vec<Complex32>,
    /// For [`SpectraKind::Phase`]: the inverse plan and the phasor buffer.
    phase: Option<(Arc<dyn Fft<f32>>, Vec<Complex32>)>,
}

impl PairBuffers {
    fn new(p: &SpectraParams, plan: &dyn Fft<f32>) -> Self {
        let window = || vec![0.0f32; p.window.len];
        let half = || fft::zeros(p.nfft / 2 + 1);
        let phase = (p.kind == SpectraKind::Phase)
            .then(|| (fft::complex(p.nfft, true), fft::zeros(p.nfft)));
        let scratch_len = phase
            .as_ref()
            .map_or(0, |(inv, _)| inv.get_inplace_scratch_len())
            .max(plan.get_inplace_scratch_len());
        Self {
            windows: [window(), window()],
            z: fft::zeros(p.nfft),
            scratch: fft::zeros(scratch_len),
            spectra: [half(), half()],
            bins: fft::zeros(p.band.len()),
            phase,
        }
    }
}

/// Spectra of one block's windows, written into the block; `x` (and `gaps`) are the channel's
/// record as it came, `day` its day pass (which may hold a muted copy of the record). Uses AVX2 and FMA where the CPU has them (detected at run time;
/// the FFT does its own detection).
fn block_spectra(
    x: &[f32],
    gaps: Option<&[bool]>,
    day: &DayPrep,
    p: &SpectraParams,
    plan: &dyn Fft<f32>,
    bufs: &mut PairBuffers,
    block: &mut WindowBlock<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features enabled on `block_spectra_avx2`.
            return unsafe { block_spectra_avx2(x, gaps, day, p, plan, bufs, block) };
        }
    }
    block_spectra_with(x, gaps, day, p, plan, bufs, block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_spectra_avx2(
    x: &[f32],
    gaps: Option<&[bool]>,
    day: &DayPrep,
    p: &SpectraParams,
    plan: &dyn Fft<f32>,
    bufs: &mut PairBuffers,
    block: &mut WindowBlock<'_>,
) {
    block_spectra_with(x, gaps, day, p, plan, bufs, block)
}

#[inline(always)]
fn block_spectra_with(
    x: &[f32],
    gaps: Option<&[bool]>,
    day: &DayPrep,
    p: &SpectraParams,
    plan: &dyn Fft<f32>,
    bufs: &mut PairBuffers,
    block: &mut WindowBlock<'_>,
) {
    let (len, step) = (p.window.len, p.window.step);
    let n_half = p.nfft / 2 + 1;
    let needed = whiten::read_range(&p.band, p.freq_norm, p.smoothspect_n, n_half);
    for first in (0..block.qc.len()).step_by(2) {
        let pair = first..(first + 2).min(block.qc.len());
        for (w, out) in pair.clone().zip(&mut bufs.windows) {
            let global = block.w0 + w;
            let range = global * step..global * step + len;
            let ctx = WindowContext {
                band_stats: day.band_stats.as_ref().map(|s| s[global]),
                day_std: day.day_std,
                rma: &day.rma,
                range: range.clone(),
            };
            // Muted samples are zeros of the day pass's record, not gaps: the gap share is
            // measured on the record as it came.
            let muted = day.record.as_deref().unwrap_or(x);
            block.qc[w] = prepare_window(
                &muted[range.clone()],
                &x[range.clone()],
                gaps.map(|g| &g[range]),
                &ctx,
                p,
                out,
            );
        }
        let [a, b] = &bufs.windows;
        let (signal, padding) = bufs.z.split_at_mut(len);
        if pair.len() == 2 {
            for ((z, &re), &im) in signal.iter_mut().zip(a).zip(b) {
                *z = Complex32::new(re, im);
            }
        } else {
            for (z, &re) in signal.iter_mut().zip(a) {
                *z = Complex32::new(re, 0.0);
            }
        }
        padding.fill(Complex32::new(0.0, 0.0));
        plan.process_with_scratch(&mut bufs.z, &mut bufs.scratch);
        let [sa, sb] = &mut bufs.spectra;
        separate(&bufs.z, needed.clone(), sa, sb);
        for (w, spectrum) in pair.zip(&bufs.spectra) {
            if block.qc[w].is_valid(&p.qc) {
                whiten(
                    spectrum,
                    &p.band,
                    p.freq_norm,
                    p.smoothspect_n,
                    &mut bufs.bins,
                );
                match &mut bufs.phase {
                    None => block.put(w, &bufs.bins),
                    Some((inverse, phasor)) => {
                        phase_spectrum(&bufs.bins, p, plan, &**inverse, phasor, &mut bufs.scratch);
                        block.put(w, phasor);
                    }
                }
            }
        }
    }
}

/// The complex FFT of the unit phasor of the analytic signal whose positive-frequency bins
/// are the whitened `bins` (at `p.band.offset`), written to `buf` (all `nfft` bins). The
/// phasor is kept on the window's samples (times `1/sqrt(len)`) and zero in the padding.
#[inline(always)]
fn phase_spectrum(
    bins: &[Complex32],
    p: &SpectraParams,
    forward: &dyn Fft<f32>,
    inverse: &dyn Fft<f32>,
    buf: &mut [Complex32],
    scratch: &mut [Complex32],
) {
    buf.fill(Complex32::new(0.0, 0.0));
    buf[p.band.offset..p.band.offset + bins.len()].copy_from_slice(bins);
    inverse.process_with_scratch(buf, scratch);
    // Unit phasors scaled by 1/sqrt(len): the correlation's usual 1/(nfft · windows) then
    // gives PCC2 = mean over the window of Re(conj φ_i φ_j), 1 for identical windows at lag 0.
    let scale = 1.0 / (p.window.len as f32).sqrt();
    let (signal, padding) = buf.split_at_mut(p.window.len);
    for v in signal.iter_mut() {
        let a = v.norm();
        *v = if a > 0.0 {
            *v * (scale / a)
        } else {
            Complex32::new(0.0, 0.0)
        };
    }
    padding.fill(Complex32::new(0.0, 0.0));
    forward.process_with_scratch(buf, scratch);
}

/// What a window's preparation reads from its channel's day pass.
struct WindowContext<'a> {
    /// `(max |y|, rms y)` of the QC-band signal on the window, if there is a QC band.
    band_stats: Option<(f32, f32)>,
    /// The day's QC level (0 if not measured).
    day_std: f32,
    /// Band-limited day records for `rma` / `multiband`.
    rma: &'a [Vec<f32>],
    /// The window's samples in the day record.
    range: Range<usize>,
}

/// `a / b`, infinite when `b` is not positive.
#[inline(always)]
fn ratio(a: f32, b: f32) -> f32 {
    if b > 0.0 {
        a / b
    } else {
        f32::INFINITY
    }
}

/// Detrend, normalise and taper one window `x` into `out`; returns its QC (gap share from
/// `original`, the window before the mute).
#[inline(always)]
fn prepare_window(
    x: &[f32],
    original: &[f32],
    gaps: Option<&[bool]>,
    ctx: &WindowContext<'_>,
    p: &SpectraParams,
    out: &mut [f32],
) -> WindowQc {
    let (std, raw_ratio) = detrend_into(x, out);
    let (max_ratio, max_over_std) = match ctx.band_stats {
        Some((peak, rms)) => (ratio(peak, rms), ratio(peak, ctx.day_std)),
        None => (raw_ratio, ratio(raw_ratio * std, ctx.day_std)),
    };
    match (p.time_norm.method, ctx.rma) {
        (TimeNorm::Rma, [band]) => {
            let y = &band[ctx.range.clone()];
            let abs: Vec<f32> = y.iter().map(|v| v.abs()).collect();
            let m = running_mean(&abs, half_width(p.time_norm.smooth_n));
            for (v, m) in out.iter_mut().zip(m) {
                *v = if m > 0.0 { *v / m } else { 0.0 };
            }
        }
        (TimeNorm::Multiband, bands) => {
            out.fill(0.0);
            for (band, rb) in bands.iter().zip(&p.day.rma_bands) {
                let y = &band[ctx.range.clone()];
                let abs: Vec<f32> = y.iter().map(|v| v.abs()).collect();
                let m = running_mean(&abs, half_width(rb.smooth_n));
                for ((o, v), m) in out.iter_mut().zip(y).zip(m) {
                    if m > 0.0 {
                        *o += v / m;
                    }
                }
            }
        }
        _ => time_normalize(out, &p.time_norm),
    }
    p.window.apply_taper(out);
    WindowQc {
        std,
        max_ratio,
        max_over_std,
        gap_fraction: window_gap_fraction(original, gaps, p.window.zero_run),
    }
}

/// The spectra of the real and imaginary parts of the transformed signal `z`, on the bins in
/// `range` of the half-spectra `a` and `b` (other bins are left as they are).
#[inline(always)]
fn separate(z: &[Complex32], range: Range<usize>, a: &mut [Complex32], b: &mut [Complex32]) {
    let n = z.len();
    let mut split = |k: usize, zk: Complex32, mirror: Complex32| {
        let zr = mirror.conj();
        a[k] = (zk + zr) * 0.5;
        let d = zk - zr;
        b[k] = Complex32::new(0.5 * d.im, -0.5 * d.re);
    };
    // Bin 0 is its own mirror; bin k >= 1 mirrors bin n - k, walked backwards.
    let first = range.start.max(1);
    if range.start == 0 && !range.is_empty() {
        split(0, z[0], z[0]);
    }
    let mirrors = z[n + 1 - range.end.max(first)..n + 1 - first].iter().rev();
    for ((k, &zk), &mirror) in (first..).zip(&z[first..range.end.max(first)]).zip(mirrors) {
        split(k, zk, mirror);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_complex_transform_gives_both_real_spectra() {
        for n in [30usize, 31, 40] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() + 0.2).collect();
            let b: Vec<f32> = (0..n)
                .map(|i| (i as f32 * 1.3).cos() * (i % 3) as f32)
                .collect();
            let mut z: Vec<Complex32> = a
                .iter()
                .zip(&b)
                .map(|(&r, &i)| Complex32::new(r, i))
                .collect();
            fft::complex(n, false).process(&mut z);
            let half = n / 2 + 1;
            let (mut sa, mut sb) = (fft::zeros(half), fft::zeros(half));
            separate(&z, 0..half, &mut sa, &mut sb);
            for (x, got) in [(&a, &sa), (&b, &sb)] {
                let mut want = fft::zeros(half);
                fft::forward(n).process(&mut x.clone(), &mut want).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).norm() < 1e-4, "n = {n}: {g} != {w}");
                }
            }
            // A partial range touches only its bins.
            let (mut pa, mut pb) = (fft::zeros(half), fft::zeros(half));
            separate(&z, 3..7, &mut pa, &mut pb);
            assert_eq!(pa[3..7], sa[3..7]);
            assert_eq!(pb[3..7], sb[3..7]);
            assert!(pa[..3].iter().chain(&pa[7..]).all(|v| v.norm() == 0.0));
        }
    }
}
