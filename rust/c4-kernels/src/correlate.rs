//! Cross-correlation of window spectra for a list of channel pairs: step 5 of a shard.
//!
//! For pair `(i, j)` and a group `g` of windows (the whole day, or `substack` windows),
//!
//! ```text
//! C_ij[g](τ) = irfft( Σ_{w ∈ g, valid} conj(A_i,w) · B_j,w ) (τ) / (nfft · n_ij[g])
//! ```
//!
//! with `A = B = S` for `xcorr`, `A = B = S / |S|~` for `coherency` and `A = S / (|S|²)~`,
//! `B = S` for `deconv` (`~`: running mean over `smoothspect_n` kept bins). For `pcc` the
//! spectra are [`SpectraKind::Phase`]: all `nfft` bins of the FFT of each window's scaled unit
//! phasor `φ / sqrt(len)`; the window sum `Z(k)` is made Hermitian,
//! `(Z(k) + conj Z(nfft − k)) / 2`, before the inverse real FFT, which gives the phase
//! cross-correlation PCC2 of Ventosa et al. (2019), `mean_t Re(conj φ_i(t) φ_j(t + τ))` (1 for
//! identical windows at lag 0; Schimmel 1999's PCC with exponent 2, up to a factor 2). `n_ij[g]` counts the
//! windows valid on both channels. Lag `τ` runs over `-maxlag_n ..= maxlag_n` samples, lag 0 in
//! the middle: `C_ij(τ) = mean_t x_i(t) x_j(t + τ)`, so a receiver `j` that records the source
//! `i` delayed by `k` samples gives a peak at `τ = +k`.
//!
//! The window sum is a batched Hermitian product, so it is blocked like a matrix product: pairs
//! are grouped into tiles of `TILE x TILE` channels, bins into chunks of `LANES` held as separate
//! real and imaginary lanes (the [`crate::packed`] layout the spectra kernel writes), and each
//! source chunk is reused for up to four receivers while it sits in registers (on CPUs with
//! AVX-512VL, two sources against four receivers: `correlate/two_source.rs`). Tiles and bin
//! ranges run in parallel; pairs go in blocks so the working memory stays bounded whatever the
//! number of pairs.

use crate::error::{ensure, Result};
use crate::fft;
use crate::memory;
use crate::options::CcMethod;
use crate::packed::{Layout, CHUNK, LANES};
use crate::smooth::{half_width, running_mean};
use crate::spectra::SpectraKind;
use num_complex::Complex32;
use rayon::prelude::*;
use realfft::ComplexToReal;
use std::borrow::Cow;
use std::sync::Arc;

#[cfg(target_arch = "x86_64")]
mod two_source;

/// Channels per tile side.
const TILE: usize = 16;
/// Receivers per micro-kernel call.
const JB: usize = 4;
/// Most bin chunks per parallel work item (a window's chunks are split evenly).
const RANGE_CHUNKS: usize = 32;
/// Target size of the per-block spectral accumulator.
const BLOCK_BYTES: usize = 64 << 20;

/// Borrowed packed window spectra as produced by [`crate::spectra::compute`].
#[derive(Debug, Clone, Copy)]
pub struct SpectraView<'a> {
    pub layout: Layout,
    /// First kept bin in the `nfft / 2 + 1` half-spectrum.
    pub offset: usize,
    pub nfft: usize,
    /// Spectra in the [`crate::packed`] layout.
    pub packed: &'a [f32],
    /// `(channel, window)` validity.
    pub valid: &'a [bool],
    /// What the spectra hold.
    pub kind: SpectraKind,
}

/// How pairs are correlated.
#[derive(Debug, Clone, Copy)]
pub struct CorrParams {
    pub method: CcMethod,
    /// Largest lag in samples; the output holds `2 * maxlag_n + 1` lags.
    pub maxlag_n: usize,
    /// Windows per sub-stack; 0 stacks the whole record into one group.
    pub substack: usize,
    /// Smoothing in bins for `coherency` and `deconv` (>= 1).
    pub smoothspect_n: usize,
}

/// Correlations of many pairs, `(pair, group, lag)` in C order.
#[derive(Debug, Clone)]
pub struct Correlations {
    pub n_pairs: usize,
    pub n_groups: usize,
    pub n_lags: usize,
    pub data: Vec<f32>,
    /// Windows stacked into each `(pair, group)`; 0 means the correlation is all zeros.
    pub counts: Vec<u32>,
}

/// Correlate `pairs` (source, receiver channel indices) of `spectra`.
pub fn correlate(
    spectra: &SpectraView<'_>,
    pairs: &[[usize; 2]],
    p: &CorrParams,
) -> Result<Correlations> {
    let s = spectra;
    let layout = s.layout;
    let (n_windows, n_bins) = (layout.n_windows, layout.n_bins);
    ensure(s.packed.len() == layout.len(), "spectra", || {
        format!(
            "holds {} values, expected {} for {} channels x {} windows x {} bins",
            s.packed.len(),
            layout.len(),
            layout.n_channels,
            n_windows,
            n_bins
        )
    })?;
    ensure(
        s.valid.len() == layout.n_channels * n_windows,
        "valid",
        || {
            format!(
                "holds {} flags, expected {} x {}",
                s.valid.len(),
                layout.n_channels,
                n_windows
            )
        },
    )?;
    ensure(n_windows > 0 && n_bins > 0, "spectra", || "is empty".into())?;
    ensure(
        (p.method == CcMethod::Pcc) == (s.kind == SpectraKind::Phase),
        "cc_method",
        || {
            format!(
                "{} needs {} spectra (spectra(..., phase={}))",
                p.method.as_str(),
                if p.method == CcMethod::Pcc {
                    "phase"
                } else {
                    "band"
                },
                p.method == CcMethod::Pcc
            )
        },
    )?;
    match s.kind {
        SpectraKind::Band => ensure(
            s.offset >= 1 && s.offset + n_bins < s.nfft / 2 + 1,
            "offset",
            || {
                format!(
                    "bins {}..{} do not fit strictly inside the spectrum of nfft={}",
                    s.offset,
                    s.offset + n_bins,
                    s.nfft
                )
            },
        )?,
        SpectraKind::Phase => ensure(s.offset == 0 && n_bins == s.nfft, "offset", || {
            format!(
                "phase spectra hold all {} bins from 0, got {n_bins} from {}",
                s.nfft, s.offset
            )
        })?,
    }
    ensure(2 * p.maxlag_n < s.nfft, "maxlag", || {
        format!("{} lags do not fit nfft={}", 2 * p.maxlag_n + 1, s.nfft)
    })?;
    ensure(p.smoothspect_n >= 1, "smoothspect_n", || {
        "must be at least 1 bin".into()
    })?;
    if let Some(bad) = pairs
        .iter()
        .find(|pr| pr[0] >= layout.n_channels || pr[1] >= layout.n_channels)
    {
        return Err(crate::error::invalid(
            "pairs",
            format!(
                "pair {bad:?} names a channel outside 0..{}",
                layout.n_channels
            ),
        ));
    }

    let groups = window_groups(n_windows, p.substack);
    let n_groups = groups.len();
    let n_lags = 2 * p.maxlag_n + 1;
    let mut used = vec![false; layout.n_channels];
    for &[i, j] in pairs {
        used[i] = true;
        used[j] = true;
    }
    let a = prepare(s, Side::Source, p, &used);
    let b = match p.method {
        CcMethod::Deconv => Some(prepare(s, Side::Receiver, p, &used)),
        CcMethod::Xcorr | CcMethod::Coherency | CcMethod::Pcc => None,
    };
    let b = b.as_ref().unwrap_or(&a);

    let mut counts = vec![0u32; pairs.len() * n_groups];
    counts
        .par_chunks_mut(n_groups)
        .zip(pairs.par_iter())
        .for_each(|(dst, &[i, j])| {
            for (c, &(w0, w1)) in dst.iter_mut().zip(&groups) {
                *c = (w0..w1)
                    .filter(|&w| s.valid[i * n_windows + w] && s.valid[j * n_windows + w])
                    .count() as u32;
            }
        });

    let mut data = memory::zeroed(pairs.len() * n_groups * n_lags);
    let mut slots: Vec<Option<&mut [f32]>> = data.chunks_mut(n_groups * n_lags).map(Some).collect();
    let tiles = tiles(pairs);
    let n_chunks = layout.n_chunks();
    let pair_bytes = n_groups * n_chunks * CHUNK * std::mem::size_of::<f32>();
    let block_pairs = (BLOCK_BYTES / pair_bytes).max(TILE * TILE);
    let out = Output {
        plan: fft::inverse(s.nfft),
        nfft: s.nfft,
        offset: s.offset,
        n_bins,
        maxlag_n: p.maxlag_n,
        n_groups,
        hermitian: s.kind == SpectraKind::Phase,
    };
    let mut start = 0;
    while start < tiles.len() {
        let mut end = start;
        let mut n = 0;
        while end < tiles.len() && (n == 0 || n + tiles[end].n_pairs() <= block_pairs) {
            n += tiles[end].n_pairs();
            end += 1;
        }
        let block = &tiles[start..end];
        let spectra = accumulate_block(block, &a, b, &groups, n_chunks);
        let order: Vec<usize> = block.iter().flat_map(|t| t.pair_order()).collect();
        let targets: Vec<(usize, &mut [f32])> = order
            .iter()
            .enumerate()
            .map(|(q, &pair)| (q, slots[pair].take().expect("each pair is in one tile")))
            .collect();
        let cnt = &counts;
        targets.into_par_iter().for_each_init(
            || out.buffers(),
            |bufs, (q, dst)| {
                out.finish_pair(
                    &spectra,
                    n,
                    q,
                    &cnt[order[q] * n_groups..][..n_groups],
                    bufs,
                    dst,
                )
            },
        );
        start = end;
    }
    Ok(Correlations {
        n_pairs: pairs.len(),
        n_groups,
        n_lags,
        data,
        counts,
    })
}

/// Window index ranges of the groups: the whole record, or `substack` windows each (the last
/// group may be shorter).
pub fn window_groups(n_windows: usize, substack: usize) -> Vec<(usize, usize)> {
    if substack == 0 || substack >= n_windows {
        return vec![(0, n_windows)];
    }
    (0..n_windows)
        .step_by(substack)
        .map(|w0| (w0, (w0 + substack).min(n_windows)))
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Source,
    Receiver,
}

/// One side of the product in the packed layout, with invalid windows zeroed.
struct Packed<'a> {
    layout: Layout,
    data: Cow<'a, [f32]>,
}

impl Packed<'_> {
    fn chunk(&self, channel: usize, k: usize) -> &[f32] {
        let len = self.layout.n_windows * CHUNK;
        let start = (channel * self.layout.n_chunks() + k) * len;
        &self.data[start..start + len]
    }
}

/// The spectra as one side of the product: borrowed as they are when no window needs zeroing
/// or scaling (`xcorr`, and the receiver side of `deconv`), else a scaled, zeroed copy. Only
/// the channels marked in `used` (those the call's pairs name) are read or copied: the copy's
/// other channels stay untouched zero pages.
fn prepare<'a>(s: &SpectraView<'a>, side: Side, p: &CorrParams, used: &[bool]) -> Packed<'a> {
    let layout = s.layout;
    let per_channel = layout.channel_len();
    let scaled = !matches!(
        (p.method, side),
        (CcMethod::Xcorr | CcMethod::Pcc, _) | (CcMethod::Deconv, Side::Receiver)
    );
    let needs_zeroing = s
        .packed
        .par_chunks(per_channel)
        .zip(s.valid.par_chunks(layout.n_windows))
        .zip(used.par_iter())
        .any(|((channel, valid), &read)| {
            read && valid.iter().enumerate().any(|(w, &ok)| {
                !ok && (0..layout.n_chunks()).any(|k| {
                    let at = (k * layout.n_windows + w) * CHUNK;
                    channel[at..at + CHUNK].iter().any(|&v| v != 0.0)
                })
            })
        });
    if !scaled && !needs_zeroing {
        return Packed {
            layout,
            data: Cow::Borrowed(s.packed),
        };
    }
    let h = half_width(p.smoothspect_n);
    let mut data = memory::zeroed(layout.len());
    data.par_chunks_mut(per_channel)
        .zip(s.packed.par_chunks(per_channel))
        .zip(s.valid.par_chunks(layout.n_windows))
        .zip(used.par_iter())
        .filter(|(_, &read)| read)
        .for_each(|(((dst, src), valid), _)| {
            let mut row = vec![Complex32::new(0.0, 0.0); layout.n_bins];
            for (w, _) in valid.iter().enumerate().filter(|(_, &ok)| ok) {
                layout.get_window(src, w, &mut row);
                if scaled {
                    let scale = spectral_scale(&row, p.method, side, h);
                    for (v, f) in row.iter_mut().zip(scale) {
                        *v *= f;
                    }
                }
                layout.put_window(dst, w, &row);
            }
        });
    Packed {
        layout,
        data: Cow::Owned(data),
    }
}

/// Per-bin factor applied to one window spectrum on one side of the product (`coherency`:
/// 1 / running mean of |S|; `deconv` source side: 1 / running mean of |S|²; 0 where the mean is 0).
fn spectral_scale(row: &[Complex32], method: CcMethod, side: Side, h: usize) -> Vec<f32> {
    let magnitude: Vec<f32> = match (method, side) {
        (CcMethod::Deconv, Side::Source) => row.iter().map(|v| v.norm_sqr()).collect(),
        _ => row.iter().map(|v| v.norm_sqr().sqrt()).collect(),
    };
    running_mean(&magnitude, h)
        .into_iter()
        .map(|m| if m > 0.0 { 1.0 / m } else { 0.0 })
        .collect()
}

/// The pairs of one tile, grouped by source channel.
struct Tile {
    /// `(source channel, [(pair index, receiver channel)])`, sources ascending.
    runs: Vec<(usize, Vec<(usize, usize)>)>,
}

impl Tile {
    fn n_pairs(&self) -> usize {
        self.runs.iter().map(|(_, js)| js.len()).sum()
    }

    /// Original pair indices in the tile's local order.
    fn pair_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.runs
            .iter()
            .flat_map(|(_, js)| js.iter().map(|&(pair, _)| pair))
    }
}

/// The pairs grouped into tiles of `TILE` x `TILE` channels. Tiles are cut over the ranks of
/// the call's own sources and receivers (in channel order), not over channel indices, so a call
/// whose pairs join two sets of channels scattered over the day's records (one pair partition
/// of the pipeline) gets tiles as full as one call of all pairs.
fn tiles(pairs: &[[usize; 2]]) -> Vec<Tile> {
    let tile_of = |side: usize| {
        let n = pairs.iter().map(|pr| pr[side] + 1).max().unwrap_or(0);
        let mut seen = vec![false; n];
        pairs.iter().for_each(|pr| seen[pr[side]] = true);
        let mut rank = 0;
        seen.iter()
            .map(|&s| {
                let t = rank / TILE;
                rank += usize::from(s);
                t
            })
            .collect::<Vec<usize>>()
    };
    let (src_tile, rcv_tile) = (tile_of(0), tile_of(1));
    let key = |[i, j]: [usize; 2]| (src_tile[i], rcv_tile[j]);
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|&q| {
        let [i, j] = pairs[q];
        (key(pairs[q]), i, j, q)
    });
    let mut tiles: Vec<Tile> = Vec::new();
    let mut last_key = None;
    for q in order {
        let [i, j] = pairs[q];
        let k = key(pairs[q]);
        if last_key != Some(k) {
            tiles.push(Tile { runs: Vec::new() });
            last_key = Some(k);
        }
        let runs = &mut tiles.last_mut().expect("pushed above").runs;
        match runs.last_mut() {
            Some((src, js)) if *src == i => js.push((q, j)),
            _ => runs.push((i, vec![(q, j)])),
        }
    }
    tiles
}

/// Summed cross-spectra of one block of tiles: one buffer per bin range, each laid out
/// `[local pair][group][chunk in range][CHUNK]` (see [`slot`]).
struct BlockSpectra {
    ranges: Vec<(usize, usize)>,
    parts: Vec<Vec<f32>>,
}

/// Offset of local pair `q`, group `g` and chunk `k` of a range `width` chunks wide (`k`
/// counted from the range's first chunk) in a range's buffer of [`BlockSpectra`].
fn slot(q: usize, g: usize, k: usize, n_groups: usize, width: usize) -> usize {
    ((q * n_groups + g) * width + k) * CHUNK
}

fn accumulate_block(
    block: &[Tile],
    a: &Packed,
    b: &Packed,
    groups: &[(usize, usize)],
    n_chunks: usize,
) -> BlockSpectra {
    let n_pairs: usize = block.iter().map(Tile::n_pairs).sum();
    let n_groups = groups.len();
    let n_ranges = n_chunks.div_ceil(RANGE_CHUNKS);
    let ranges: Vec<(usize, usize)> = (0..n_ranges)
        .map(|r| (r * n_chunks / n_ranges, (r + 1) * n_chunks / n_ranges))
        .collect();
    let mut parts: Vec<Vec<f32>> = ranges
        .iter()
        .map(|&(k0, k1)| memory::zeroed(n_pairs * n_groups * (k1 - k0) * CHUNK))
        .collect();
    let mut work = Vec::new();
    for (&range, part) in ranges.iter().zip(parts.iter_mut()) {
        let mut rest: &mut [f32] = part;
        for (t, tile) in block.iter().enumerate() {
            let len = tile.n_pairs() * n_groups * (range.1 - range.0) * CHUNK;
            let (region, tail) = rest.split_at_mut(len);
            rest = tail;
            work.push((t, range, region));
        }
    }
    #[cfg(target_arch = "x86_64")]
    if two_source_kernel() {
        let steps: Vec<Vec<two_source::Step>> = block.iter().map(two_source::schedule).collect();
        work.into_par_iter().for_each(|(t, range, region)| {
            // SAFETY: `two_source_kernel` checked the CPU features `tile_range` enables.
            unsafe { two_source::tile_range(&steps[t], a, b, groups, range, region) }
        });
        return BlockSpectra { ranges, parts };
    }
    work.into_par_iter()
        .for_each(|(t, range, region)| tile_range(&block[t], a, b, groups, range, region));
    BlockSpectra { ranges, parts }
}

/// Whether the two-source AVX-512VL kernel runs: the CPU has it and `C4_NO_AVX512` is unset
/// (that variable selects the AVX2 kernel, to compare the two).
#[cfg(target_arch = "x86_64")]
fn two_source_kernel() -> bool {
    static USE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USE.get_or_init(|| two_source::cpu_supported() && std::env::var_os("C4_NO_AVX512").is_none())
}

/// Sum the cross-spectra of one tile over the chunks in `range` into `region`, one source at a
/// time, with AVX2 and FMA where the CPU has them (detected at run time, so one build is fast
/// everywhere; LLVM's own AVX-512 code for this loop measured slower, see benches/RESULTS.md).
fn tile_range(
    tile: &Tile,
    a: &Packed,
    b: &Packed,
    groups: &[(usize, usize)],
    range: (usize, usize),
    region: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features enabled on `tile_range_avx2`.
            return unsafe { tile_range_avx2(tile, a, b, groups, range, region) };
        }
        tile_range_with::<Plain>(tile, a, b, groups, range, region)
    }
    #[cfg(not(target_arch = "x86_64"))]
    tile_range_with::<Fused>(tile, a, b, groups, range, region)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_range_avx2(
    tile: &Tile,
    a: &Packed,
    b: &Packed,
    groups: &[(usize, usize)],
    range: (usize, usize),
    region: &mut [f32],
) {
    tile_range_with::<Fused>(tile, a, b, groups, range, region)
}

/// Multiply-add `a * b + c`, fused where the CPU has FMA.
trait Mac {
    fn mac(a: f32, b: f32, c: f32) -> f32;
}

/// Separate multiply and add, for CPUs without FMA (fused `mul_add` would call libm there).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Plain;

impl Mac for Plain {
    #[inline(always)]
    fn mac(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Fused multiply-add.
struct Fused;

impl Mac for Fused {
    #[inline(always)]
    fn mac(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// The tile loop: for each chunk of bins, each source channel against up to `JB` receivers
/// per micro-kernel call (their accumulators fill 8 of the 16 vector registers).
#[inline(always)]
fn tile_range_with<M: Mac>(
    tile: &Tile,
    a: &Packed,
    b: &Packed,
    groups: &[(usize, usize)],
    range: (usize, usize),
    region: &mut [f32],
) {
    let n_groups = groups.len();
    let width = range.1 - range.0;
    let mut sums = vec![[0.0f32; CHUNK]; JB * n_groups];
    for k in range.0..range.1 {
        let mut q = 0;
        for (i, js) in &tile.runs {
            let src = a.chunk(*i, k);
            for quad in js.chunks(JB) {
                match quad.len() {
                    4 => window_sums::<4, M>(src, receivers(b, quad, k), groups, &mut sums),
                    3 => window_sums::<3, M>(src, receivers(b, quad, k), groups, &mut sums),
                    2 => window_sums::<2, M>(src, receivers(b, quad, k), groups, &mut sums),
                    _ => window_sums::<1, M>(src, receivers(b, quad, k), groups, &mut sums),
                }
                for t in 0..quad.len() {
                    for g in 0..n_groups {
                        let at = slot(q + t, g, k - range.0, n_groups, width);
                        region[at..at + CHUNK].copy_from_slice(&sums[t * n_groups + g]);
                    }
                }
                q += quad.len();
            }
        }
    }
}

#[inline(always)]
fn receivers<'a, const J: usize>(
    b: &'a Packed,
    quad: &[(usize, usize)],
    k: usize,
) -> [&'a [f32]; J] {
    std::array::from_fn(|t| b.chunk(quad[t].1, k))
}

/// `sums[t * G + g] = Σ_{w ∈ group g} conj(src_w) · rcv_t,w` for one chunk of bins.
#[inline(always)]
fn window_sums<const J: usize, M: Mac>(
    src: &[f32],
    rcv: [&[f32]; J],
    groups: &[(usize, usize)],
    sums: &mut [[f32; CHUNK]],
) {
    let n_groups = groups.len();
    for (g, &(w0, w1)) in groups.iter().enumerate() {
        let mut acc = [[0.0f32; CHUNK]; J];
        for w in w0..w1 {
            let av: &[f32; CHUNK] = src[w * CHUNK..(w + 1) * CHUNK].try_into().expect("chunk");
            for t in 0..J {
                let bv: &[f32; CHUNK] = rcv[t][w * CHUNK..(w + 1) * CHUNK]
                    .try_into()
                    .expect("chunk");
                let acc = &mut acc[t];
                for l in 0..LANES {
                    let (ar, ai, br, bi) = (av[l], av[LANES + l], bv[l], bv[LANES + l]);
                    acc[l] = M::mac(ar, br, M::mac(ai, bi, acc[l]));
                    acc[LANES + l] = M::mac(ar, bi, M::mac(-ai, br, acc[LANES + l]));
                }
            }
        }
        for t in 0..J {
            sums[t * n_groups + g] = acc[t];
        }
    }
}

/// Turns summed cross-spectra into trimmed, normalised lag series.
struct Output {
    /// The inverse real FFT of length `nfft`, fetched once (the planner sits behind a lock).
    plan: Arc<dyn ComplexToReal<f32>>,
    nfft: usize,
    offset: usize,
    n_bins: usize,
    maxlag_n: usize,
    n_groups: usize,
    /// The sums cover all `nfft` bins of a complex spectrum (phase spectra): take their
    /// Hermitian part.
    hermitian: bool,
}

struct InverseBuffers {
    /// All `nfft` summed bins (only for [`Output::hermitian`]).
    full: Vec<Complex32>,
    half: Vec<Complex32>,
    time: Vec<f32>,
    scratch: Vec<Complex32>,
}

impl Output {
    fn buffers(&self) -> InverseBuffers {
        InverseBuffers {
            full: fft::zeros(if self.hermitian { self.nfft } else { 0 }),
            half: fft::zeros(self.nfft / 2 + 1),
            time: vec![0.0; self.nfft],
            scratch: self.plan.make_scratch_vec(),
        }
    }

    /// Inverse-transform local pair `q` of a block of `n_pairs` into `dst` (`groups x lags`).
    fn finish_pair(
        &self,
        spectra: &BlockSpectra,
        n_pairs: usize,
        q: usize,
        counts: &[u32],
        bufs: &mut InverseBuffers,
        dst: &mut [f32],
    ) {
        let n_lags = 2 * self.maxlag_n + 1;
        let plan = &*self.plan;
        for (g, (&count, dst)) in counts.iter().zip(dst.chunks_mut(n_lags)).enumerate() {
            if count == 0 {
                dst.fill(0.0);
                continue;
            }
            bufs.half.fill(Complex32::new(0.0, 0.0));
            let target = if self.hermitian {
                &mut bufs.full
            } else {
                &mut bufs.half
            };
            for (&(k0, k1), part) in spectra.ranges.iter().zip(&spectra.parts) {
                let width = k1 - k0;
                let base = slot(q, g, 0, self.n_groups, width);
                debug_assert!(base + width * CHUNK <= part.len() && q < n_pairs);
                for k in k0..k1 {
                    let lanes = &part[base + (k - k0) * CHUNK..][..CHUNK];
                    for l in 0..LANES.min(self.n_bins.saturating_sub(k * LANES)) {
                        target[self.offset + k * LANES + l] =
                            Complex32::new(lanes[l], lanes[LANES + l]);
                    }
                }
            }
            if self.hermitian {
                let n = self.nfft;
                for (k, h) in bufs.half.iter_mut().enumerate() {
                    *h = (bufs.full[k] + bufs.full[(n - k) % n].conj()) * 0.5;
                }
                // The inverse real FFT needs real DC and Nyquist bins.
                bufs.half[0].im = 0.0;
                if n.is_multiple_of(2) {
                    bufs.half[n / 2].im = 0.0;
                }
            }
            plan.process_with_scratch(&mut bufs.half, &mut bufs.time, &mut bufs.scratch)
                .expect("buffer sizes match the plan");
            let scale = 1.0 / (self.nfft as f32 * count as f32);
            // Lags -m..0 sit at the end of the circular result, lags 0..=m at its start.
            let m = self.maxlag_n;
            let (negative, positive) = dst.split_at_mut(m);
            let lags = bufs.time[self.nfft - m..].iter().chain(&bufs.time[..=m]);
            for (v, &x) in negative.iter_mut().chain(positive).zip(lags) {
                *v = x * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::packed::pack;

    fn view<'a>(
        packed: &'a [f32],
        valid: &'a [bool],
        layout: Layout,
        nfft: usize,
    ) -> SpectraView<'a> {
        SpectraView {
            layout,
            offset: 1,
            nfft,
            packed,
            valid,
            kind: SpectraKind::Band,
        }
    }

    /// Direct evaluation of the documented formula for one pair of `(channel, window, bin)`
    /// spectra.
    fn direct(
        data: &[Complex32],
        valid: &[bool],
        l: Layout,
        nfft: usize,
        i: usize,
        j: usize,
        maxlag: usize,
    ) -> Vec<f32> {
        let mut half = fft::zeros(nfft / 2 + 1);
        let mut n = 0;
        for w in 0..l.n_windows {
            if !(valid[i * l.n_windows + w] && valid[j * l.n_windows + w]) {
                continue;
            }
            n += 1;
            for b in 0..l.n_bins {
                let x = data[(i * l.n_windows + w) * l.n_bins + b];
                let y = data[(j * l.n_windows + w) * l.n_bins + b];
                half[1 + b] += x.conj() * y;
            }
        }
        let mut time = vec![0.0; nfft];
        fft::inverse(nfft).process(&mut half, &mut time).unwrap();
        (0..2 * maxlag + 1)
            .map(|t| time[(t + nfft - maxlag) % nfft] / (nfft * n) as f32)
            .collect()
    }

    #[test]
    fn blocked_kernel_matches_direct_sum_for_many_pairs() {
        let (c, w, b, nfft) = (21, 5, 19, 64);
        let data: Vec<Complex32> = (0..c * w * b)
            .map(|k| Complex32::new(((k * 37) % 11) as f32 - 5.0, ((k * 13) % 7) as f32 - 3.0))
            .collect();
        let mut valid = vec![true; c * w];
        valid[3] = false;
        valid[w * 7 + 1] = false;
        let layout = Layout {
            n_channels: c,
            n_windows: w,
            n_bins: b,
        };
        let packed = pack(&data, layout);
        let s = view(&packed, &valid, layout, nfft);
        let pairs: Vec<[usize; 2]> = (0..c).flat_map(|i| (i..c).map(move |j| [i, j])).collect();
        let p = CorrParams {
            method: CcMethod::Xcorr,
            maxlag_n: 10,
            substack: 0,
            smoothspect_n: 1,
        };
        let out = correlate(&s, &pairs, &p).unwrap();
        for (q, &[i, j]) in pairs.iter().enumerate() {
            let want = direct(&data, &valid, layout, nfft, i, j, 10);
            let got = &out.data[q * 21..(q + 1) * 21];
            for (x, y) in got.iter().zip(&want) {
                assert!(
                    (x - y).abs() < 1e-4 * (1.0 + y.abs()),
                    "pair {i},{j}: {x} vs {y}"
                );
            }
        }
        assert_eq!(out.counts[0], 4);
    }

    #[test]
    fn tiles_follow_the_ranks_of_the_calls_channels() {
        // Sources every third channel, receivers every fifth: 16 x 16 of them fill one tile.
        let pairs: Vec<[usize; 2]> = (0..16)
            .flat_map(|a| (0..16).map(move |b| [3 * a, 5 * b + 1]))
            .collect();
        let t = tiles(&pairs);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].n_pairs(), 256);
        // One more source and receiver start a second tile row and column.
        let mut more = pairs.clone();
        more.push([48, 81]);
        assert_eq!(tiles(&more).len(), 2);
    }

    #[test]
    fn a_partition_of_scattered_channels_gives_the_whole_calls_bits() {
        let (c, w, b, nfft) = (40, 6, 23, 64);
        let data: Vec<Complex32> = (0..c * w * b)
            .map(|k| Complex32::new(((k * 37) % 11) as f32 - 5.0, ((k * 13) % 7) as f32 - 3.0))
            .collect();
        let mut valid = vec![true; c * w];
        valid[5] = false;
        let layout = Layout {
            n_channels: c,
            n_windows: w,
            n_bins: b,
        };
        let packed = pack(&data, layout);
        let s = view(&packed, &valid, layout, nfft);
        let all: Vec<[usize; 2]> = (0..c).flat_map(|i| (i..c).map(move |j| [i, j])).collect();
        for method in [CcMethod::Xcorr, CcMethod::Coherency] {
            let p = CorrParams {
                method,
                maxlag_n: 10,
                substack: 2,
                smoothspect_n: 3,
            };
            same_bits_per_partition(&s, &all, &p);
        }
    }

    fn same_bits_per_partition(s: &SpectraView<'_>, all: &[[usize; 2]], p: &CorrParams) {
        let whole = correlate(s, all, p).unwrap();
        let n = whole.n_groups * whole.n_lags;
        // Channels hashed into two blocks; each (source block, receiver block) is one call.
        let block = |ch: usize| (ch * 7 + ch / 3) % 2;
        for (a, r) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let (idx, part): (Vec<usize>, Vec<[usize; 2]>) = all
                .iter()
                .enumerate()
                .filter(|(_, pr)| block(pr[0]) == a && block(pr[1]) == r)
                .map(|(q, &pr)| (q, pr))
                .unzip();
            let got = correlate(s, &part, p).unwrap();
            for (k, &q) in idx.iter().enumerate() {
                assert_eq!(got.data[k * n..][..n], whole.data[q * n..][..n]);
                assert_eq!(
                    got.counts[k * whole.n_groups..][..whole.n_groups],
                    whole.counts[q * whole.n_groups..][..whole.n_groups]
                );
            }
        }
    }

    #[test]
    fn substack_groups_cover_all_windows() {
        assert_eq!(window_groups(10, 4), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(window_groups(10, 0), vec![(0, 10)]);
    }

    #[test]
    fn rejects_out_of_range_pair() {
        let layout = Layout {
            n_channels: 2,
            n_windows: 1,
            n_bins: 3,
        };
        let packed = pack(&[Complex32::new(1.0, 0.0); 6], layout);
        let valid = vec![true; 2];
        let s = view(&packed, &valid, layout, 16);
        let p = CorrParams {
            method: CcMethod::Xcorr,
            maxlag_n: 2,
            substack: 0,
            smoothspect_n: 1,
        };
        let err = correlate(&s, &[[0, 2]], &p).unwrap_err().to_string();
        assert!(err.starts_with("pairs"), "{err}");
    }
}
