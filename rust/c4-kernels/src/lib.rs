//! c4 kernels: ambient-noise cross-correlation numerics in pure Rust.
//!
//! The data flow of one day: [`spectra::compute`] cuts `(channel, sample)` records into windows,
//! detrends, normalises, tapers, transforms and whitens them, keeping only the in-band bins;
//! [`correlate::correlate`] sums `conj(S_i) S_j` over windows for every requested pair and
//! inverse-transforms once per pair (and sub-stack); [`stack::stack`] combines correlations
//! along time. Everything runs on rayon; [`pool::install`] picks the thread count.
//!
//! Sign convention: a positive lag means energy travelling from the source channel (first of
//! the pair) to the receiver (second).

pub mod bandpass;
pub mod check;
pub mod correlate;
pub mod dayprep;
pub mod dvv;
pub mod error;
pub mod fft;
pub mod memory;
pub mod normalize;
pub mod options;
pub mod packed;
pub mod pool;
pub mod preprocess;
pub mod smooth;
pub mod spectra;
pub mod stack;
pub mod tfpws;
pub mod whiten;
pub mod window;

pub use error::{KernelError, Result};
