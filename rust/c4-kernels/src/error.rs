//! The one error type of the kernels: every failure names the argument at fault.

use thiserror::Error;

/// Why a kernel refused its input. Bindings map every variant to a Python `ValueError`.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KernelError {
    /// An argument is out of range or inconsistent with another one.
    #[error("{name}: {message}")]
    InvalidArgument { name: &'static str, message: String },
    /// A string option that is not one of the allowed values.
    #[error("{name}: unknown value {value:?}; allowed values: {allowed}")]
    UnknownOption {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
}

/// Result alias used by every kernel.
pub type Result<T> = std::result::Result<T, KernelError>;

/// Build an [`KernelError::InvalidArgument`].
pub fn invalid(name: &'static str, message: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument {
        name,
        message: message.into(),
    }
}

/// Fail with `message` about `name` unless `ok`.
pub fn ensure(ok: bool, name: &'static str, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(invalid(name, message()))
    }
}
