//! Day-level preparation of one channel before it is cut into windows: band-limited copies of
//! the record for window QC and `rma` weights, the day's QC level, and the transient mute.
//!
//! Everything here works on the whole day record, as NoisePy and Bensen et al. (2007) do
//! (filter the day, then cut windows), so window edges never see filter transients.

use crate::bandpass::{ButterBand, RecordSpectrum};
use crate::window::WindowSpec;

/// The transient mute: samples where the envelope of the band-limited record exceeds
/// `factor` times its median over the day are set to zero, together with half a period of the
/// band's lower corner on each side (a SeisNoise.jl-style `mute` on the envelope).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mute {
    /// Band whose envelope is measured.
    pub band: ButterBand,
    /// Threshold in multiples of the day's median envelope (> 1).
    pub factor: f32,
}

/// A band for `rma` weights and the running-mean length used in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmaBand {
    pub band: ButterBand,
    /// Running-mean length in samples (>= 1).
    pub smooth_n: usize,
}

/// What the day pass of a channel computes; [`DayOptions::is_empty`] means nothing (the
/// window pass then reads the record as it is, the fast path).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayOptions {
    /// Band of the QC signal; `None`: QC on the detrended window itself.
    pub qc_band: Option<ButterBand>,
    /// Bands of the time normalisation: `rma` divides the window by the running mean of |x_b|
    /// of its one band; `multiband` sums `x_b / runmean(|x_b|)` over its bands.
    pub rma_bands: Vec<RmaBand>,
    pub mute: Option<Mute>,
    /// Measure the day's level even without a QC band (for `max_over_std` on raw windows).
    pub day_level: bool,
}

impl DayOptions {
    /// Whether the day pass needs band-limited copies of the record (one day FFT).
    pub fn needs_filtering(&self) -> bool {
        self.qc_band.is_some() || !self.rma_bands.is_empty() || self.mute.is_some()
    }

    /// Whether the day pass has nothing to do.
    pub fn is_empty(&self) -> bool {
        !self.needs_filtering() && !self.day_level
    }

    /// Zero padding of the day FFT: enough for the lowest band used.
    fn padding(&self, fs: f64) -> usize {
        self.qc_band
            .iter()
            .chain(self.rma_bands.iter().map(|b| &b.band))
            .chain(self.mute.iter().map(|m| &m.band))
            .map(|b| b.padding(fs))
            .max()
            .unwrap_or(0)
    }
}

/// Result of the day pass of one channel.
#[derive(Debug, Clone, Default)]
pub struct DayPrep {
    /// The record with muted samples zeroed (`None`: nothing muted, use the record).
    pub record: Option<Vec<f32>>,
    /// The record filtered in each of [`DayOptions::rma_bands`] (muted samples zeroed).
    pub rma: Vec<Vec<f32>>,
    /// Per window, `(max |y|, rms y)` of the QC-band signal `y` (`None` without a QC band).
    pub band_stats: Option<Vec<(f32, f32)>>,
    /// Standard deviation of the QC signal (the QC-band signal, or the record about its mean)
    /// over the day's covered samples.
    pub day_std: f32,
    /// Samples set to zero by the mute.
    pub muted: usize,
}

/// Whether sample `k` holds data: not flagged in `gaps` or, without a mask, not an exact zero.
fn covered(x: &[f32], gaps: Option<&[bool]>, k: usize) -> bool {
    match gaps {
        Some(g) => !g[k],
        None => x[k] != 0.0,
    }
}

/// Standard deviation about the mean of the covered samples of `y` (0 if none).
fn covered_std(y: &[f32], record: &[f32], gaps: Option<&[bool]>) -> f32 {
    let (mut n, mut s, mut ss) = (0usize, 0.0f64, 0.0f64);
    for (k, &v) in y.iter().enumerate() {
        if covered(record, gaps, k) {
            n += 1;
            s += f64::from(v);
            ss += f64::from(v) * f64::from(v);
        }
    }
    if n == 0 {
        return 0.0;
    }
    let mean = s / n as f64;
    (ss / n as f64 - mean * mean).max(0.0).sqrt() as f32
}

/// Mask of the samples the mute removes (see [`Mute`]); `None` if nothing is muted.
fn mute_mask(
    spectrum: &RecordSpectrum,
    record: &[f32],
    gaps: Option<&[bool]>,
    mute: &Mute,
) -> Option<Vec<bool>> {
    let env = spectrum.envelope(&mute.band);
    let mut level: Vec<f32> = env
        .iter()
        .enumerate()
        .filter(|&(k, _)| covered(record, gaps, k))
        .map(|(_, &v)| v)
        .collect();
    if level.is_empty() {
        return None;
    }
    let mid = level.len() / 2;
    let median = *level.select_nth_unstable_by(mid, f32::total_cmp).1;
    let threshold = mute.factor * median;
    let reach = (spectrum.fs / (2.0 * mute.band.fmin)).round() as usize;
    let mut mask = vec![false; env.len()];
    let mut any = false;
    let mut k = 0;
    while k < env.len() {
        if env[k] > threshold {
            let start = k;
            while k < env.len() && env[k] > threshold {
                k += 1;
            }
            let (a, b) = (start.saturating_sub(reach), (k + reach).min(env.len()));
            mask[a..b].fill(true);
            any = true;
        } else {
            k += 1;
        }
    }
    any.then_some(mask)
}

/// Run the day pass of one channel's `record` (`gaps` like it) at `fs` Hz for windows cut as
/// `spec` describes.
pub fn prepare_day(
    record: &[f32],
    gaps: Option<&[bool]>,
    fs: f64,
    spec: &WindowSpec,
    options: &DayOptions,
) -> DayPrep {
    let mut out = DayPrep::default();
    if options.is_empty() {
        return out;
    }
    if !options.needs_filtering() {
        out.day_std = covered_std(record, record, gaps);
        return out;
    }
    let spectrum = RecordSpectrum::new(record, fs, options.padding(fs));
    let mask = options
        .mute
        .as_ref()
        .and_then(|m| mute_mask(&spectrum, record, gaps, m));
    let apply = |mut y: Vec<f32>| {
        if let Some(mask) = &mask {
            y.iter_mut()
                .zip(mask)
                .filter(|(_, &m)| m)
                .for_each(|(v, _)| *v = 0.0);
        }
        y
    };
    if let Some(mask) = &mask {
        out.muted = mask.iter().filter(|&&m| m).count();
        out.record = Some(apply(record.to_vec()));
    }
    out.rma = options
        .rma_bands
        .iter()
        .map(|b| apply(spectrum.filtered(&b.band)))
        .collect();
    let n_windows = spec.count(record.len());
    match &options.qc_band {
        Some(band) => {
            let y = apply(spectrum.filtered(band));
            out.day_std = covered_std(&y, record, gaps);
            out.band_stats = Some(
                (0..n_windows)
                    .map(|w| {
                        let part = &y[w * spec.step..w * spec.step + spec.len];
                        let peak = part.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                        let power: f64 = part.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                        (peak, (power / part.len() as f64).sqrt() as f32)
                    })
                    .collect(),
            );
        }
        None => {
            let used = out.record.as_deref().unwrap_or(record);
            out.day_std = covered_std(used, record, gaps);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn mute_zeroes_a_burst_and_its_surroundings_only() {
        let fs = 20.0;
        let mut x = noise(40000, 3);
        for v in &mut x[20000..20200] {
            *v *= 100.0;
        }
        let spec = WindowSpec::new(4000, 4000, 0.05, 0).unwrap();
        let options = DayOptions {
            mute: Some(Mute {
                band: ButterBand::new(0.5, 5.0),
                factor: 4.0,
            }),
            ..Default::default()
        };
        let prep = prepare_day(&x, None, fs, &spec, &options);
        let record = prep.record.expect("something muted");
        assert!(record[20000..20200].iter().all(|&v| v == 0.0));
        assert_eq!(record[..19000], x[..19000]);
        assert_eq!(record[21200..], x[21200..]);
        assert!(prep.muted >= 200 && prep.muted < 1000, "{}", prep.muted);
    }

    #[test]
    fn band_statistics_ignore_energy_outside_the_band() {
        let fs = 20.0;
        let mut x = noise(40000, 5);
        // A strong 8 Hz burst with a smooth (Hann) envelope in window 2, outside 0.1-1 Hz.
        for (k, v) in x[9000..9400].iter_mut().enumerate() {
            let t = k as f32 / 400.0;
            let env = (std::f32::consts::PI * t).sin().powi(2);
            *v += 50.0 * env * (2.0 * std::f32::consts::PI * 8.0 * k as f32 / 20.0).sin();
        }
        let spec = WindowSpec::new(4000, 4000, 0.05, 0).unwrap();
        let options = DayOptions {
            qc_band: Some(ButterBand::new(0.1, 1.0)),
            ..Default::default()
        };
        let prep = prepare_day(&x, None, fs, &spec, &options);
        let stats = prep.band_stats.unwrap();
        let ratios: Vec<f32> = stats.iter().map(|(m, _)| m / prep.day_std).collect();
        let spread = ratios.iter().fold(0.0f32, |a, &b| a.max(b)) / ratios[0];
        assert!(spread < 1.5, "{ratios:?}");
    }
}
