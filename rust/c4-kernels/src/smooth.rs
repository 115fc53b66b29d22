//! Centred running means, the smoothing used by `rma` normalisation in time and frequency.

/// Half-width of the centred window used for a smoothing length of `n` (n >= 1).
///
/// The window around sample `k` is `[k - h, k + h]` with `h = n / 2`, clipped at the ends of
/// the data, so an even `n` averages `n + 1` samples and `n = 1` is the identity.
pub fn half_width(n: usize) -> usize {
    n / 2
}

/// Windows up to this many samples are summed directly (vectorised, f32); longer ones through
/// an f64 prefix sum, whose cost does not grow with the window.
const DIRECT_MAX: usize = 65;

/// Running mean of `values` with half-width `h`, evaluated at indices `range` of `values`.
#[inline(always)]
pub fn running_mean_at(values: &[f32], h: usize, range: std::ops::Range<usize>, out: &mut [f32]) {
    debug_assert_eq!(out.len(), range.len());
    if range.is_empty() {
        return;
    }
    let n = values.len();
    let window = |k: usize| (k.saturating_sub(h), (k + h + 1).min(n));
    if 2 * h + 1 > DIRECT_MAX {
        let (lo, _) = window(range.start);
        let (_, hi) = window(range.end - 1);
        let mut prefix = Vec::with_capacity(hi - lo + 1);
        let mut acc = 0.0f64;
        prefix.push(0.0);
        for &v in &values[lo..hi] {
            acc += f64::from(v);
            prefix.push(acc);
        }
        for (o, k) in out.iter_mut().zip(range) {
            let (a, b) = window(k);
            *o = ((prefix[b - lo] - prefix[a - lo]) / (b - a) as f64) as f32;
        }
        return;
    }
    // Interior outputs (whole window inside the data): one vectorised pass per window offset.
    let first = range.start.max(h).min(range.end);
    let last = range.end.min(n.saturating_sub(h)).max(first);
    let interior = &mut out[first - range.start..last - range.start];
    interior.fill(0.0);
    if !interior.is_empty() {
        for d in 0..=2 * h {
            for (o, v) in interior.iter_mut().zip(&values[first + d - h..]) {
                *o += v;
            }
        }
    }
    let scale = 1.0 / (2 * h + 1) as f32;
    interior.iter_mut().for_each(|o| *o *= scale);
    // Clipped windows at the ends.
    for k in (range.start..first).chain(last..range.end) {
        let (a, b) = window(k);
        out[k - range.start] = values[a..b].iter().sum::<f32>() / (b - a) as f32;
    }
}

/// Running mean of `values` with half-width `h` at every index.
#[inline(always)]
pub fn running_mean(values: &[f32], h: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    running_mean_at(values, h, 0..values.len(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_direct_average_including_edges() {
        let x: Vec<f32> = (0..11).map(|i| ((i * 7) % 5) as f32).collect();
        let h = 2;
        let got = running_mean(&x, h);
        for (k, g) in got.iter().enumerate() {
            let a = k.saturating_sub(h);
            let b = (k + h + 1).min(x.len());
            let want: f32 = x[a..b].iter().sum::<f32>() / (b - a) as f32;
            assert!((g - want).abs() < 1e-6);
        }
        let mut part = vec![0.0; 3];
        running_mean_at(&x, h, 4..7, &mut part);
        assert_eq!(&part[..], &got[4..7]);
    }

    #[test]
    fn long_windows_use_the_prefix_sum_and_agree() {
        let x: Vec<f32> = (0..300).map(|i| ((i * 13) % 17) as f32).collect();
        for h in [0, 3, 32, 33, 100, 200] {
            let got = running_mean(&x, h);
            for (k, g) in got.iter().enumerate() {
                let (a, b) = (k.saturating_sub(h), (k + h + 1).min(x.len()));
                let want = x[a..b].iter().map(|&v| f64::from(v)).sum::<f64>() / (b - a) as f64;
                assert!(
                    (f64::from(*g) - want).abs() < 1e-4 * want.max(1.0),
                    "h={h} k={k}"
                );
            }
        }
    }

    #[test]
    fn length_one_is_identity() {
        let x = [3.0f32, -1.0, 2.5];
        assert_eq!(running_mean(&x, half_width(1)), x.to_vec());
    }
}
