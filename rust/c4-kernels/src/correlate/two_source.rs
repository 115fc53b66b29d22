//! The window sums of two source channels against up to four receivers at once, for CPUs with
//! AVX-512VL.
//!
//! AVX-512VL gives 32 vector registers of 256 bits instead of AVX2's 16, enough to keep the
//! accumulators of a 2 x 4 block of pairs (16 registers) and both sources (4) in registers. Each
//! receiver chunk loaded from cache then feeds eight fused multiply-adds instead of four, which
//! is what limits the one-source AVX2 kernel. The arithmetic, and so every rounding, is the same
//! as in [`super::window_sums`]; only the order of the loads changes.

use super::{slot, Packed, Tile};
use crate::packed::{CHUNK, LANES};
use std::arch::x86_64::{
    __m256, _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

/// One micro-kernel call: `n_src` sources (1 or 2) against `n_rcv` receivers (1 to 4); `q` holds
/// the local pair positions, `q[s][t]` for source `s` and receiver `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    src: [usize; 2],
    n_src: usize,
    rcv: [usize; 4],
    n_rcv: usize,
    q: [[usize; 4]; 2],
}

/// The calls that cover a tile: consecutive sources are paired and share the receivers they
/// have in common; the receivers only one of them has go through one-source calls.
pub(super) fn schedule(tile: &Tile) -> Vec<Step> {
    let mut base = Vec::with_capacity(tile.runs.len());
    let mut q = 0;
    for (_, js) in &tile.runs {
        base.push(q);
        q += js.len();
    }
    let mut steps = Vec::new();
    let mut r = 0;
    while r < tile.runs.len() {
        let (i1, js1) = &tile.runs[r];
        if r + 1 == tile.runs.len() {
            let only: Vec<(usize, usize)> =
                (0..js1.len()).map(|e| (js1[e].1, base[r] + e)).collect();
            one_source(*i1, &only, &mut steps);
            break;
        }
        let (i2, js2) = &tile.runs[r + 1];
        let (mut common, mut only1, mut only2) = (Vec::new(), Vec::new(), Vec::new());
        let (mut a, mut b) = (0, 0);
        while a < js1.len() || b < js2.len() {
            let j1 = js1.get(a).map(|p| p.1);
            let j2 = js2.get(b).map(|p| p.1);
            match (j1, j2) {
                (Some(x), Some(y)) if x == y => {
                    common.push((x, base[r] + a, base[r + 1] + b));
                    a += 1;
                    b += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    only1.push((x, base[r] + a));
                    a += 1;
                }
                (Some(x), None) => {
                    only1.push((x, base[r] + a));
                    a += 1;
                }
                (_, Some(y)) => {
                    only2.push((y, base[r + 1] + b));
                    b += 1;
                }
                (None, None) => unreachable!("the loop runs while one list has entries"),
            }
        }
        for part in common.chunks(4) {
            let mut step = Step {
                src: [*i1, *i2],
                n_src: 2,
                rcv: [0; 4],
                n_rcv: part.len(),
                q: [[0; 4]; 2],
            };
            for (t, &(j, q1, q2)) in part.iter().enumerate() {
                step.rcv[t] = j;
                step.q[0][t] = q1;
                step.q[1][t] = q2;
            }
            steps.push(step);
        }
        one_source(*i1, &only1, &mut steps);
        one_source(*i2, &only2, &mut steps);
        r += 2;
    }
    steps
}

/// One-source calls for `(receiver, local pair position)` entries, four receivers at a time.
fn one_source(src: usize, entries: &[(usize, usize)], steps: &mut Vec<Step>) {
    for part in entries.chunks(4) {
        let mut step = Step {
            src: [src, src],
            n_src: 1,
            rcv: [0; 4],
            n_rcv: part.len(),
            q: [[0; 4]; 2],
        };
        for (t, &(j, q)) in part.iter().enumerate() {
            step.rcv[t] = j;
            step.q[0][t] = q;
        }
        steps.push(step);
    }
}

/// Windows summed per pass over a tile's calls: the 32 channels of a 16 x 16 tile then keep
/// 16 windows x 64 bytes each, 32 KiB, in L1 while every call of the tile reads them.
const WINDOW_BLOCK: usize = 16;

/// Whether this CPU has the features [`tile_range`] is compiled for.
pub(super) fn cpu_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// [`super::tile_range`] with the two-source kernel. The caller checks [`cpu_supported`].
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) unsafe fn tile_range(
    steps: &[Step],
    a: &Packed,
    b: &Packed,
    groups: &[(usize, usize)],
    range: (usize, usize),
    region: &mut [f32],
) {
    let n_groups = groups.len();
    let width = range.1 - range.0;
    // Accumulators of every call, `[step][source * 4 + receiver]`, for the current group.
    let mut sums = vec![[0.0f32; CHUNK]; 8 * steps.len()];
    for k in range.0..range.1 {
        for (g, &(w0, w1)) in groups.iter().enumerate() {
            sums.fill([0.0; CHUNK]);
            for v0 in (w0..w1).step_by(WINDOW_BLOCK) {
                let windows = (v0, (v0 + WINDOW_BLOCK).min(w1));
                for (step, acc) in steps.iter().zip(sums.chunks_mut(8)) {
                    let s = [a.chunk(step.src[0], k), a.chunk(step.src[1], k)];
                    let r = |t: usize| b.chunk(step.rcv[t.min(step.n_rcv - 1)], k);
                    match (step.n_src, step.n_rcv) {
                        (2, 4) => add_sums::<2, 4>(s, [r(0), r(1), r(2), r(3)], windows, acc),
                        (2, 3) => add_sums::<2, 3>(s, [r(0), r(1), r(2)], windows, acc),
                        (2, 2) => add_sums::<2, 2>(s, [r(0), r(1)], windows, acc),
                        (2, _) => add_sums::<2, 1>(s, [r(0)], windows, acc),
                        (_, 4) => add_sums::<1, 4>(s, [r(0), r(1), r(2), r(3)], windows, acc),
                        (_, 3) => add_sums::<1, 3>(s, [r(0), r(1), r(2)], windows, acc),
                        (_, 2) => add_sums::<1, 2>(s, [r(0), r(1)], windows, acc),
                        _ => add_sums::<1, 1>(s, [r(0)], windows, acc),
                    }
                }
            }
            for (step, acc) in steps.iter().zip(sums.chunks(8)) {
                for s in 0..step.n_src {
                    for t in 0..step.n_rcv {
                        let at = slot(step.q[s][t], g, k - range.0, n_groups, width);
                        region[at..at + CHUNK].copy_from_slice(&acc[s * 4 + t]);
                    }
                }
            }
        }
    }
}

/// `acc[s * 4 + t] += Σ_{w ∈ windows} conj(src_s,w) · rcv_t,w` for one chunk of bins, `S`
/// sources and `J` receivers, all accumulators in registers.
#[inline]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn add_sums<const S: usize, const J: usize>(
    src: [&[f32]; 2],
    rcv: [&[f32]; J],
    (w0, w1): (usize, usize),
    acc: &mut [[f32; CHUNK]],
) {
    let end = w1 * CHUNK;
    assert!(src.iter().chain(&rcv).all(|x| x.len() >= end) && acc.len() >= 8);
    let load = |x: &[f32], at: usize| -> __m256 {
        // SAFETY: `at + LANES <= end <= x.len()`, checked above for every slice read here.
        unsafe { _mm256_loadu_ps(x.as_ptr().add(at)) }
    };
    let mut re = [[_mm256_setzero_ps(); J]; S];
    let mut im = [[_mm256_setzero_ps(); J]; S];
    for s in 0..S {
        for t in 0..J {
            re[s][t] = load(&acc[s * 4 + t], 0);
            im[s][t] = load(&acc[s * 4 + t], LANES);
        }
    }
    for w in w0..w1 {
        let at = w * CHUNK;
        let ar: [__m256; S] = std::array::from_fn(|s| load(src[s], at));
        let ai: [__m256; S] = std::array::from_fn(|s| load(src[s], at + LANES));
        for t in 0..J {
            let br = load(rcv[t], at);
            let bi = load(rcv[t], at + LANES);
            for s in 0..S {
                re[s][t] = _mm256_fmadd_ps(ar[s], br, _mm256_fmadd_ps(ai[s], bi, re[s][t]));
                im[s][t] = _mm256_fmadd_ps(ar[s], bi, _mm256_fnmadd_ps(ai[s], br, im[s][t]));
            }
        }
    }
    for s in 0..S {
        for t in 0..J {
            let (lo, hi) = acc[s * 4 + t].split_at_mut(LANES);
            // SAFETY: `lo` and `hi` hold LANES floats each.
            unsafe {
                _mm256_storeu_ps(lo.as_mut_ptr(), re[s][t]);
                _mm256_storeu_ps(hi.as_mut_ptr(), im[s][t]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packed::{pack, Layout};
    use num_complex::Complex32;
    use std::borrow::Cow;

    /// All pairs of 37 channels with autos (full, diagonal and partial tiles), plus reversed,
    /// repeated and lone pairs.
    fn pairs() -> Vec<[usize; 2]> {
        let mut p: Vec<[usize; 2]> = (0..37).flat_map(|i| (i..37).map(move |j| [i, j])).collect();
        p.extend([[5, 3], [36, 0], [7, 7], [7, 7], [20, 2], [20, 3], [21, 3]]);
        p
    }

    #[test]
    fn schedule_covers_every_pair_of_a_tile_once() {
        for tile in super::super::tiles(&pairs()) {
            let mut want: Vec<(usize, usize, usize)> = Vec::new();
            let mut q = 0;
            for (i, js) in &tile.runs {
                for &(_, j) in js {
                    want.push((*i, j, q));
                    q += 1;
                }
            }
            let mut got: Vec<(usize, usize, usize)> = Vec::new();
            for step in schedule(&tile) {
                for s in 0..step.n_src {
                    for t in 0..step.n_rcv {
                        got.push((step.src[s], step.rcv[t], step.q[s][t]));
                    }
                }
            }
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn sums_match_the_one_source_kernel_bit_for_bit() {
        if !cpu_supported() {
            eprintln!("this CPU has no AVX-512VL: the two-source kernel never runs here");
            return;
        }
        let layout = Layout {
            n_channels: 37,
            n_windows: 35,
            n_bins: 45,
        };
        let mut state = 7u32;
        let mut uniform = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let data: Vec<Complex32> = (0..37 * 35 * 45)
            .map(|_| Complex32::new(uniform(), uniform()))
            .collect();
        let packed = pack(&data, layout);
        let a = Packed {
            layout,
            data: Cow::Borrowed(&packed),
        };
        for groups in [vec![(0, 35)], vec![(0, 16), (16, 33), (33, 35)]] {
            for range in [(0, layout.n_chunks()), (2, 5)] {
                for tile in super::super::tiles(&pairs()) {
                    let len = tile.n_pairs() * groups.len() * (range.1 - range.0) * CHUNK;
                    let (mut one, mut two) = (vec![f32::NAN; len], vec![f32::NAN; len]);
                    super::super::tile_range(&tile, &a, &a, &groups, range, &mut one);
                    // SAFETY: the CPU has the features `tile_range` enables (checked above).
                    unsafe { tile_range(&schedule(&tile), &a, &a, &groups, range, &mut two) };
                    assert!(one.iter().all(|v| v.is_finite()));
                    assert_eq!(one, two);
                }
            }
        }
    }
}
