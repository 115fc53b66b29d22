//! Time the correlation kernel on NoisePy-sized spectra: `cargo run --release --example
//! correlate_timing [channels] [threads]`. Prints milliseconds per pair-day.

use c4_kernels::correlate::{correlate, CorrParams, SpectraView};
use c4_kernels::options::CcMethod;
use num_complex::Complex32;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (c, threads) = (
        args.first().copied().unwrap_or(32),
        args.get(1).copied().unwrap_or(1),
    );
    let (w, b, nfft) = (188, 3903, 40000);
    let mut state = 1u32;
    let data: Vec<Complex32> = (0..c * w * b)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let re = (state >> 8) as f32 / (1 << 24) as f32 - 0.5;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            Complex32::new(re, (state >> 8) as f32 / (1 << 24) as f32 - 0.5)
        })
        .collect();
    let valid = vec![true; c * w];
    let view = SpectraView {
        n_channels: c,
        n_windows: w,
        n_bins: b,
        offset: 98,
        nfft,
        data: &data,
        valid: &valid,
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
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{c} channels, {} pairs, {threads} threads: {:.3} ms/pair-day",
            pairs.len(),
            ms / pairs.len() as f64
        );
    }
}
