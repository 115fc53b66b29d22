//! Milliseconds per channel-day of `preprocess::to_grid` on one thread: a day of int32 counts at
//! the given input rate onto a 20 Hz grid.
//!
//! `cargo run --release --example preprocess_timing -p c4-kernels [rate_hz] [rounds]`

use c4_kernels::preprocess::{to_grid, GridSpec, Samples, Trace};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args
        .next()
        .map_or(100.0, |a| a.parse().expect("rate in Hz"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("rounds"));
    let n = (86_400.0 * rate) as usize;
    // a cheap deterministic pseudo-random walk of counts
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let x: Vec<i32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 4001) as i32 - 2000
        })
        .collect();
    let traces = [Trace {
        start: 0.0,
        rate,
        samples: Samples::I32(&x),
    }];
    let spec = GridSpec {
        fs: 20.0,
        npts: 1_728_000,
        margin: 60.0,
        taper_fraction: 0.05,
        taper_max: 60.0,
    };
    let (mut out, mut gaps) = (vec![0.0f32; spec.npts], vec![true; spec.npts]);
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        let rep = to_grid(&traces, &spec, None, &mut out, &mut gaps).expect("valid input");
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(rep.covered, spec.npts);
    }
    println!(
        "{rate} Hz -> 20 Hz: {:.1} ms per channel-day (best of {rounds})",
        best * 1e3
    );
}
