//! The anti-alias low-pass: a Kaiser-windowed sinc, designed in f64 and applied in f32.
//!
//! For input rate `r` and output rate `fs`, with `f = min(r, fs)`: flat (ripple about 1e-5)
//! up to `0.4 f`, at least [`ATTENUATION_DB`] down from `0.6 f` on, -6 dB at `0.5 f` (the
//! output's Nyquist frequency when downsampling). Anything that aliases lands above `0.4 f`,
//! outside the band a correlation can use. The kernel is evaluated at any fractional offset, so
//! the same design serves integer decimation with any start phase and resampling by any ratio.

/// Stop-band attenuation, dB.
pub const ATTENUATION_DB: f64 = 100.0;
/// Pass band edge and stop band edge as fractions of the lower of the two rates.
const PASS: f64 = 0.4;
const STOP: f64 = 0.6;
/// SIMD lanes the tap vectors are padded to.
pub const V: usize = 8;
/// Phases per input sample of the resampling table (linear interpolation in between).
pub const PHASES: usize = 512;

/// A low-pass kernel `g(t)`, `t` in input samples, nonzero for `|t| < half_width + 1`.
#[derive(Debug, Clone)]
pub struct Lowpass {
    /// Cutoff (-6 dB), cycles per input sample.
    pub cutoff: f64,
    /// Taps at each side of the centre.
    pub half_width: usize,
    beta: f64,
    i0_beta: f64,
}

/// Modified Bessel function of the first kind, order 0 (power series; converges for all x).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    let mut k = 1.0;
    while term > 1e-17 * sum {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

impl Lowpass {
    /// The anti-alias filter from `rate_in` to `rate_out` Hz (see the module docs).
    pub fn new(rate_in: f64, rate_out: f64) -> Self {
        let low = rate_in.min(rate_out) / rate_in;
        let transition = (STOP - PASS) * low;
        // Kaiser's estimates of the window shape and length for a given attenuation.
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        let taps = (ATTENUATION_DB - 7.95) / (14.36 * transition) + 1.0;
        Self {
            cutoff: 0.5 * low,
            half_width: (taps / 2.0).ceil() as usize,
            beta,
            i0_beta: bessel_i0(beta),
        }
    }

    /// Number of taps of one phase, padded to [`V`]: offsets `-half_width ..= half_width + 1`.
    pub fn len(&self) -> usize {
        (2 * self.half_width + 2).div_ceil(V) * V
    }

    /// Whether the kernel has no taps (never: kept for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The kernel at `t` input samples from its centre.
    pub fn at(&self, t: f64) -> f64 {
        let w = (self.half_width + 1) as f64;
        let u = t / w;
        if u.abs() >= 1.0 {
            return 0.0;
        }
        let window = bessel_i0(self.beta * (1.0 - u * u).sqrt()) / self.i0_beta;
        let x = 2.0 * self.cutoff * t;
        let sinc = if x == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
        };
        2.0 * self.cutoff * sinc * window
    }

    /// Taps for an output `mu` (in [0, 1)) input samples after input sample `i`:
    /// `y = sum_j taps[j] * x[i - half_width + j]`, normalised to a gain of 1 at 0 Hz.
    pub fn taps(&self, mu: f64) -> Vec<f32> {
        let m = self.half_width as f64;
        let raw: Vec<f64> = (0..self.len())
            .map(|j| {
                if j < 2 * self.half_width + 2 {
                    self.at(mu - (j as f64 - m))
                } else {
                    0.0
                }
            })
            .collect();
        let sum: f64 = raw.iter().sum();
        raw.iter().map(|&v| (v / sum) as f32).collect()
    }

    /// [`Lowpass::taps`] for `mu = p / PHASES`, `p = 0 ..= PHASES`, one row after the other.
    pub fn table(&self) -> Vec<f32> {
        (0..=PHASES)
            .flat_map(|p| self.taps(p as f64 / PHASES as f64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |H(f)| of taps applied at unit spacing, f in cycles per sample.
    fn gain(taps: &[f32], f: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (j, &h) in taps.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * f * j as f64;
            re += h as f64 * ph.cos();
            im += h as f64 * ph.sin();
        }
        (re * re + im * im).sqrt()
    }

    #[test]
    fn bessel_i0_matches_known_values() {
        assert_eq!(bessel_i0(0.0), 1.0);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-14);
        assert!((bessel_i0(10.0) - 2_815.716_628_466_254).abs() < 1e-9);
    }

    #[test]
    fn pass_band_is_flat_and_stop_band_is_below_the_attenuation() {
        for (r, fs) in [(100.0, 20.0), (40.0, 20.0), (40.000016, 20.0), (20.0, 20.0)] {
            let lp = Lowpass::new(r, fs);
            let low = r.min(fs);
            for mu in [0.0, 0.3, 0.77] {
                let taps = lp.taps(mu);
                for k in 0..=200 {
                    let f = PASS * low / r * k as f64 / 200.0;
                    let g = gain(&taps, f);
                    assert!((g - 1.0).abs() < 2e-5, "{r}->{fs} mu {mu}: gain {g} at {f}");
                }
                let stop = STOP * low / r;
                for k in (0..=400).filter(|_| stop < 0.5) {
                    let f = stop + (0.5 - stop) * k as f64 / 400.0;
                    let db = 20.0 * gain(&taps, f).log10();
                    // f32 taps limit the floor to about -130 dB
                    assert!(db < -ATTENUATION_DB + 2.0, "{r}->{fs}: {db} dB at {f}");
                }
            }
        }
    }

    #[test]
    fn the_cutoff_is_half_the_lower_rate() {
        let lp = Lowpass::new(100.0, 20.0);
        let g = gain(&lp.taps(0.0), 0.1);
        assert!((g - 0.5).abs() < 0.01, "gain {g} at 10 Hz of 100");
    }

    #[test]
    fn taps_shift_with_mu_and_the_table_holds_them() {
        let lp = Lowpass::new(40.0, 20.0);
        let (a, b) = (lp.taps(0.0), lp.taps(1.0 - 1e-12));
        // mu -> 1 is mu = 0 one input sample later
        for j in 1..a.len() {
            assert!((b[j] - a[j - 1]).abs() < 1e-6);
        }
        let table = lp.table();
        assert_eq!(table.len(), (PHASES + 1) * lp.len());
        assert_eq!(&table[..lp.len()], &a[..]);
        let mid = &table[PHASES / 2 * lp.len()..][..lp.len()];
        assert_eq!(mid, &lp.taps(0.5)[..]);
    }
}
