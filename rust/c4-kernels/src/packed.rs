//! The packed spectra layout shared by the spectra and correlation kernels.
//!
//! `[channel][chunk][window][2 * LANES]`: kept bins are grouped in chunks of [`LANES`]
//! consecutive bins; each (chunk, window) holds `LANES` real parts then `LANES` imaginary parts,
//! and bins past the last kept bin are zero. With this layout the correlation kernel reads
//! every (channel, chunk) as one contiguous block over all windows, with real and imaginary
//! parts in separate SIMD lanes, so the spectra are never copied between the two steps.

use num_complex::Complex32;
use rayon::prelude::*;

/// Bins per chunk (one 256-bit register of f32).
pub const LANES: usize = 8;
/// Floats per (chunk, window).
pub const CHUNK: usize = 2 * LANES;

/// Shape of a packed spectra buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub n_channels: usize,
    pub n_windows: usize,
    /// Kept bins per window.
    pub n_bins: usize,
}

impl Layout {
    /// Chunks per window.
    pub fn n_chunks(&self) -> usize {
        self.n_bins.div_ceil(LANES)
    }

    /// Floats per channel.
    pub fn channel_len(&self) -> usize {
        self.n_chunks() * self.n_windows * CHUNK
    }

    /// Floats in the whole buffer.
    pub fn len(&self) -> usize {
        self.n_channels * self.channel_len()
    }

    /// Whether the buffer holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write one window's kept bins into a channel's region.
    pub fn put_window(&self, channel: &mut [f32], w: usize, bins: &[Complex32]) {
        for (k, chunk) in bins.chunks(LANES).enumerate() {
            let at = (k * self.n_windows + w) * CHUNK;
            put_chunk(&mut channel[at..at + CHUNK], chunk);
        }
    }

    /// Read one window's kept bins from a channel's region.
    pub fn get_window(&self, channel: &[f32], w: usize, bins: &mut [Complex32]) {
        for (k, chunk) in bins.chunks_mut(LANES).enumerate() {
            let src = &channel[(k * self.n_windows + w) * CHUNK..][..CHUNK];
            for (l, v) in chunk.iter_mut().enumerate() {
                *v = Complex32::new(src[l], src[LANES + l]);
            }
        }
    }
}

/// Write up to [`LANES`] bins into one (chunk, window) slot of [`CHUNK`] floats: real parts,
/// then imaginary parts; lanes past the last bin are left as they are.
pub fn put_chunk(slot: &mut [f32], bins: &[Complex32]) {
    let (re, im) = slot.split_at_mut(LANES);
    for ((r, i), v) in re.iter_mut().zip(im.iter_mut()).zip(bins) {
        *r = v.re;
        *i = v.im;
    }
}

/// Bytes of a cache line: packed buffers start on one, so no (chunk, window) row straddles two.
pub const CACHE_LINE: usize = 64;

/// A zeroed buffer holding `len` floats that start on a cache line.
#[derive(Debug, Clone)]
pub struct AlignedBuf {
    /// The allocation: `offset` floats of slack, the data, then the rest of the slack.
    pub storage: Vec<f32>,
    /// Index in `storage` of the first float of the data.
    pub offset: usize,
    /// Floats of data.
    pub len: usize,
}

impl AlignedBuf {
    /// `len` zeros starting at a multiple of [`CACHE_LINE`] bytes.
    pub fn zeros(len: usize) -> Self {
        let per_line = CACHE_LINE / std::mem::size_of::<f32>();
        let storage = crate::memory::zeroed(len + per_line - 1);
        let misalign = storage.as_ptr() as usize % CACHE_LINE / std::mem::size_of::<f32>();
        let offset = (per_line - misalign) % per_line;
        Self {
            storage,
            offset,
            len,
        }
    }

    /// The data.
    pub fn as_slice(&self) -> &[f32] {
        &self.storage[self.offset..self.offset + self.len]
    }

    /// The data, writable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.storage[self.offset..self.offset + self.len]
    }
}

/// Pack `(channel, window, bin)` complex spectra.
pub fn pack(data: &[Complex32], layout: Layout) -> Vec<f32> {
    let mut out = vec![0.0f32; layout.len()];
    let row = layout.n_windows * layout.n_bins;
    if row == 0 {
        return out;
    }
    out.par_chunks_mut(layout.channel_len())
        .zip(data.par_chunks(row))
        .for_each(|(dst, src)| {
            for (w, bins) in src.chunks(layout.n_bins).enumerate() {
                layout.put_window(dst, w, bins);
            }
        });
    out
}

/// Unpack into `(channel, window, bin)` complex spectra.
pub fn unpack(packed: &[f32], layout: Layout) -> Vec<Complex32> {
    let mut out =
        vec![Complex32::new(0.0, 0.0); layout.n_channels * layout.n_windows * layout.n_bins];
    let row = layout.n_windows * layout.n_bins;
    if row == 0 {
        return out;
    }
    out.par_chunks_mut(row)
        .zip(packed.par_chunks(layout.channel_len()))
        .for_each(|(dst, src)| {
            for (w, bins) in dst.chunks_mut(layout.n_bins).enumerate() {
                layout.get_window(src, w, bins);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_start_on_a_cache_line() {
        for len in [1, 7, 1000, 100_003] {
            let buf = AlignedBuf::zeros(len);
            assert_eq!(buf.as_slice().as_ptr() as usize % CACHE_LINE, 0);
            assert_eq!(buf.as_slice().len(), len);
        }
    }

    #[test]
    fn pack_then_unpack_round_trips_and_pads_with_zeros() {
        let n_bins = LANES + 5;
        let layout = Layout {
            n_channels: 2,
            n_windows: 3,
            n_bins,
        };
        let data: Vec<Complex32> = (0..2 * 3 * n_bins)
            .map(|k| Complex32::new(k as f32, -(k as f32)))
            .collect();
        let packed = pack(&data, layout);
        assert_eq!(packed.len(), 2 * 2 * 3 * CHUNK);
        // Channel 0, chunk 1, window 2: bins LANES..LANES+5 of window 2, then zeros.
        let at = (3 + 2) * CHUNK;
        let first = (2 * n_bins + LANES) as f32;
        assert_eq!(packed[at], first);
        assert_eq!(packed[at + 5], 0.0);
        assert_eq!(packed[at + LANES], -first);
        assert_eq!(unpack(&packed, layout), data);
    }
}
