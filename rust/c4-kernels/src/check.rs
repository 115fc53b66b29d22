//! Argument checks that read a whole array, on all cores.
//!
//! A day of records is gigabytes; checking it for NaN and Inf with numpy runs on one thread and
//! allocates a boolean array as large as the data. Here the check runs in parallel blocks and
//! stops at the first block with a non-finite value.

use rayon::prelude::*;

/// Values per parallel block.
const BLOCK: usize = 1 << 16;

/// Whether every value of `x` is finite (neither NaN nor ±Inf).
pub fn all_finite(x: &[f32]) -> bool {
    x.par_chunks(BLOCK)
        .all(|block| block.iter().fold(true, |ok, v| ok & v.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nan_and_inf_anywhere() {
        let mut x = vec![1.5f32; 3 * BLOCK + 17];
        assert!(all_finite(&x));
        assert!(all_finite(&[]));
        for (at, bad) in [
            (0, f32::NAN),
            (BLOCK + 3, f32::INFINITY),
            (x.len() - 1, -f32::INFINITY),
        ] {
            x[at] = bad;
            assert!(!all_finite(&x), "{bad} at {at}");
            x[at] = 1.5;
        }
        x[7] = f32::MAX;
        assert!(all_finite(&x));
    }
}
