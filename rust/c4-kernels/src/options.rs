//! String options of the kernels as enums; parsing lists the allowed values on failure.

use crate::error::{KernelError, Result};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $arg:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every accepted spelling, `|`-separated.
            pub const ALLOWED: &'static str = concat!($($text, "|"),+);

            /// Parse the option, naming the argument and the allowed values on failure.
            pub fn parse(value: &str) -> Result<Self> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    other => Err(KernelError::UnknownOption {
                        name: $arg,
                        value: other.to_string(),
                        allowed: Self::ALLOWED.trim_end_matches('|'),
                    }),
                }
            }

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
    };
}

string_enum!(
    /// Time-domain normalisation applied to each window before its FFT.
    TimeNorm, "time_norm", {
        /// Leave the window as it is.
        None => "none",
        /// Keep only the sign of each sample.
        OneBit => "one_bit",
        /// Divide by the running mean of |x| over `smooth_n` samples.
        Rma => "rma",
        /// Clamp samples at ±`clip_std` times the window's standard deviation.
        Clip => "clip",
        /// Sum over sub-bands of the band-passed window divided by its running mean of |x|
        /// (needs the spectra step's day pass, see [`crate::dayprep`]).
        Multiband => "multiband",
    }
);

string_enum!(
    /// Spectral whitening applied inside the band.
    FreqNorm, "freq_norm", {
        /// Band-limit only.
        None => "none",
        /// Divide by the running mean of |X| over `smoothspect_n` bins.
        Rma => "rma",
        /// Divide by |X|: unit amplitude in the band.
        PhaseOnly => "phase_only",
    }
);

string_enum!(
    /// How two spectra are combined into a cross-spectrum.
    CcMethod, "cc_method", {
        /// conj(S_i) S_j.
        Xcorr => "xcorr",
        /// conj(S_i) S_j / (|S_i|~ |S_j|~), `~` = running mean over `smoothspect_n` bins.
        Coherency => "coherency",
        /// conj(S_i) S_j / (|S_i|^2)~.
        Deconv => "deconv",
        /// Phase cross-correlation PCC2 (Ventosa et al. 2019): the correlation of the unit
        /// phasors of the windows' analytic signals (needs phase spectra).
        Pcc => "pcc",
    }
);

string_enum!(
    /// Names of the stack methods (their parameters live in [`crate::stack::StackMethod`]).
    StackKind, "stack_method", {
        /// Mean.
        Linear => "linear",
        /// Phase-weighted stack.
        Pws => "pws",
        /// Robust stack.
        Robust => "robust",
        /// N-th root stack.
        Nroot => "nroot",
        /// Time-frequency phase-weighted stack (S-transform, Schimmel & Gallart 2007).
        Tfpws => "tfpws",
        /// Mean of the traces that correlate with the mean above a threshold (NoisePy).
        Selective => "selective",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_lists_allowed_values() {
        for v in ["none", "one_bit", "rma", "clip"] {
            assert_eq!(TimeNorm::parse(v).unwrap().as_str(), v);
        }
        let err = FreqNorm::parse("phase").unwrap_err().to_string();
        assert!(err.contains("freq_norm"), "{err}");
        assert!(err.contains("none|rma|phase_only"), "{err}");
        assert!(CcMethod::parse("deconv").is_ok());
    }
}
