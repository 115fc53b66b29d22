//! Time the correlation kernel on NoisePy-sized spectra (188 windows, 3903 kept bins,
//! nfft 40000, maxlag 4000 samples, all pairs with autos):
//! `cargo run --release --example correlate_timing [channels] [threads]`.

use c4_kernels::correlate::{correlate, CorrParams, SpectraView};
use c4_kernels::options::CcMethod;
use c4_kernels::packed::{pack, Layout};
use c4_kernels::spectra::SpectraKind;
use num_complex::Complex32;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let c = args.first().copied().unwrap_or(32);
    let threads = args.get(1).copied().unwrap_or(1);
    let layout = Layout {
        n_channels: c,
        n_windows: 188,
        n_bins: 3903,
    };
    let mut state = 1u32;
    let mut uniform = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1 << 24) as f32 - 0.5
    };
    let data: Vec<Complex32> = (0..c * layout.n_windows * layout.n_bins)
        .map(|_| Complex32::new(uniform(), uniform()))
        .collect();
    let packed = pack(&data, layout);
    let valid = vec![true; c * layout.n_windows];
    let view = SpectraView {
        layout,
        offset: 98,
        nfft: 40000,
        packed: &packed,
        valid: &valid,
        kind: SpectraKind::Band,
    };
    let pairs: Vec<[usize; 2]> = (0..c).flat_map(|i| (i..c).map(move |j| [i, j])).collect();
    let p = CorrParams {
        method: CcMethod::Xcorr,
        maxlag_n: 4000,
        substack: 0,
        smoothspect_n: 1,
    };
    for _ in 0..3 {
        let t = Instant::now();
        c4_kernels::pool::install(Some(threads), || correlate(&view, &pairs, &p)).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3 / pairs.len() as f64;
        println!(
            "{c} channels, {} pairs, {threads} threads: {ms:.3} ms/pair-day",
            pairs.len()
        );
    }
}
