//! Bindings of the dv/v kernels (`c4_kernels::dvv`): stretching and MWCS delays.

use crate::{array, detached, slice, Arr, KernelError};
use c4_kernels::dvv::mwcs::{self, MwcsParams};
use c4_kernels::dvv::stretching::{self as st, StretchParams};
use c4_kernels::dvv::Segments;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// Lag-index ranges `(pair, segment, 2)` as usize, or an error for negative values.
fn ranges(segments: &PyReadonlyArray3<'_, i64>) -> PyResult<(Vec<usize>, usize)> {
    let values = slice("segments", segments)?
        .iter()
        .map(|&v| usize::try_from(v).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| KernelError::new_err("segments: lag indices must be >= 0"))?;
    if segments.shape()[2] != 2 {
        return Err(KernelError::new_err(
            "segments: must have shape (n_pairs, n_segments, 2)",
        ));
    }
    Ok((values, segments.shape()[1]))
}

/// Shapes `(pairs, times, lags)` of a reference/current couple, checked against each other.
fn shapes(
    reference: &PyReadonlyArray2<'_, f32>,
    current: &PyReadonlyArray3<'_, f32>,
) -> PyResult<[usize; 3]> {
    let [p, t, l] = [current.shape()[0], current.shape()[1], current.shape()[2]];
    if reference.shape() != [p, l] {
        return Err(KernelError::new_err(format!(
            "reference: shape {:?} differs from (pairs, lags) of current {:?}",
            reference.shape(),
            current.shape()
        )));
    }
    Ok([p, t, l])
}

/// Best stretch and its correlation coefficient per (pair, time).
#[pyfunction]
#[pyo3(signature = (reference, current, zero, segments, max_stretch, n_grid, tolerance, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn stretching<'py>(
    py: Python<'py>,
    reference: PyReadonlyArray2<'py, f32>,
    current: PyReadonlyArray3<'py, f32>,
    zero: usize,
    segments: PyReadonlyArray3<'py, i64>,
    max_stretch: f64,
    n_grid: usize,
    tolerance: f64,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, f64, 2>, Arr<'py, f64, 2>)> {
    let [p, t, l] = shapes(&reference, &current)?;
    let (r, n_seg) = ranges(&segments)?;
    let seg = Segments { ranges: &r, n_seg };
    let params = StretchParams {
        max_stretch,
        n_grid,
        tolerance,
    };
    let (rf, cur) = (slice("reference", &reference)?, slice("current", &current)?);
    let out = detached(py, threads, || {
        st::stretching(rf, cur, p, t, l, zero, seg, &params)
    })?;
    Ok((array(py, out.stretch, [p, t])?, array(py, out.cc, [p, t])?))
}

/// Correlation coefficient of every trial stretch with every current trace: (pair, time, trial).
#[pyfunction]
#[pyo3(signature = (reference, current, zero, segments, trials, threads=None))]
fn stretch_cc<'py>(
    py: Python<'py>,
    reference: PyReadonlyArray2<'py, f32>,
    current: PyReadonlyArray3<'py, f32>,
    zero: usize,
    segments: PyReadonlyArray3<'py, i64>,
    trials: PyReadonlyArray1<'py, f64>,
    threads: Option<usize>,
) -> PyResult<Arr<'py, f64, 3>> {
    let [p, t, l] = shapes(&reference, &current)?;
    let (r, n_seg) = ranges(&segments)?;
    let seg = Segments { ranges: &r, n_seg };
    let eps = slice("trials", &trials)?;
    let (rf, cur) = (slice("reference", &reference)?, slice("current", &current)?);
    let out = detached(py, threads, || {
        st::stretch_cc(rf, cur, p, t, l, zero, seg, eps)
    })?;
    array(py, out, [p, t, eps.len()])
}

/// MWCS delays (s), their errors (s) and mean coherences per (pair, time, window).
#[pyfunction]
#[pyo3(signature = (reference, current, starts, win, nfft, bin_lo, bin_hi, smooth_half, fs, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn mwcs_delays<'py>(
    py: Python<'py>,
    reference: PyReadonlyArray2<'py, f32>,
    current: PyReadonlyArray3<'py, f32>,
    starts: PyReadonlyArray2<'py, i64>,
    win: usize,
    nfft: usize,
    bin_lo: usize,
    bin_hi: usize,
    smooth_half: usize,
    fs: f64,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, f64, 3>, Arr<'py, f64, 3>, Arr<'py, f64, 3>)> {
    let [p, t, l] = shapes(&reference, &current)?;
    if starts.shape()[0] != p {
        return Err(KernelError::new_err(format!(
            "starts: {} rows for {p} pairs",
            starts.shape()[0]
        )));
    }
    let n_win = starts.shape()[1];
    let params = MwcsParams {
        win,
        nfft,
        bin_lo,
        bin_hi,
        smooth_half,
        fs,
    };
    let (rf, cur) = (slice("reference", &reference)?, slice("current", &current)?);
    let s = slice("starts", &starts)?;
    let out = detached(py, threads, || {
        mwcs::mwcs(rf, cur, p, t, l, s, n_win, &params)
    })?;
    let shape = [p, t, n_win];
    Ok((
        array(py, out.dt, shape)?,
        array(py, out.err, shape)?,
        array(py, out.coherence, shape)?,
    ))
}

/// Add the dv/v functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stretching, m)?)?;
    m.add_function(wrap_pyfunction!(stretch_cc, m)?)?;
    m.add_function(wrap_pyfunction!(mwcs_delays, m)?)?;
    Ok(())
}
