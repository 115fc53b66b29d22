//! Thin PyO3 bindings: borrow numpy views, release the GIL, call `c4_kernels`, return arrays.
//!
//! All numerics live in the `c4-kernels` crate. Argument checks with friendly messages happen
//! in `c4.kernels` (Python); the kernels re-check everything and report [`KernelError`]s, which
//! become `c4._kernels.KernelError` (a `ValueError`).

use c4_kernels::correlate::{self as corr, CorrParams, SpectraView};
use c4_kernels::normalize::{time_normalize_rows, TimeNormParams};
use c4_kernels::options::{CcMethod, FreqNorm, StackKind, TimeNorm};
use c4_kernels::packed::{self, AlignedBuf, Layout, CHUNK, LANES};
use c4_kernels::spectra::{self as spec, SpectraKind, SpectraSettings};
use c4_kernels::stack::{self as stk, StackMethod};
use c4_kernels::whiten::{whiten_rows, Band};
use c4_kernels::window::{prepare_all, Rejection, WindowQc, WindowSpec};
use c4_kernels::{fft, pool};
use num_complex::Complex32;
use numpy::ndarray::Dim;
use numpy::{
    Element, PyArray, PyArray1, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1,
    PyReadonlyArray2, PyReadonlyArray3, PyReadonlyArray4, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PySlice;

mod dvv;
mod preprocess;

create_exception!(
    _kernels,
    KernelError,
    PyValueError,
    "A kernel rejected its arguments; the message starts with the argument's name."
);

/// Run `f` with the GIL released inside the kernel pool of `threads` threads.
fn detached<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> c4_kernels::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| pool::install(threads, f))
        .map_err(|e| KernelError::new_err(e.to_string()))
}

/// The contiguous data of a borrowed array, or a `TypeError` naming the argument.
fn slice<'a, T: Element, D: numpy::ndarray::Dimension>(
    name: &str,
    a: &'a PyReadonlyArray<'_, T, D>,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name}: array must be C-contiguous (use numpy.ascontiguousarray)"
        ))
    })
}

/// The layout of a packed spectra array of `shape` holding `n_bins` bins per window.
fn packed_layout(shape: &[usize], n_bins: usize) -> PyResult<Layout> {
    let layout = Layout {
        n_channels: shape[0],
        n_windows: shape[2],
        n_bins,
    };
    if shape[1] != layout.n_chunks() || shape[3] != CHUNK {
        return Err(KernelError::new_err(format!(
            "packed: shape {shape:?} does not hold {n_bins} bins in chunks of {LANES}"
        )));
    }
    Ok(layout)
}

/// A numpy view of an aligned buffer's data, of the given shape (it keeps the whole allocation
/// alive, so the data keep their cache-line alignment without a copy).
fn aligned_array<'py>(
    py: Python<'py>,
    buf: AlignedBuf,
    shape: [usize; 4],
) -> PyResult<Bound<'py, PyAny>> {
    let (start, stop) = (buf.offset as isize, (buf.offset + buf.len) as isize);
    let whole = PyArray1::from_vec(py, buf.storage);
    whole
        .get_item(PySlice::new(py, start, stop, 1))?
        .call_method1("reshape", (shape.to_vec(),))
}

/// Move a vector into a new numpy array of the given shape.
fn array<'py, T: Element, const N: usize>(
    py: Python<'py>,
    data: Vec<T>,
    shape: [usize; N],
) -> PyResult<Arr<'py, T, N>>
where
    Dim<[usize; N]>: numpy::ndarray::Dimension,
    [usize; N]: numpy::ndarray::IntoDimension<Dim = Dim<[usize; N]>>,
{
    PyArray1::from_vec(py, data).reshape(shape)
}

/// A numpy array of `N` dimensions owned by Python.
type Arr<'py, T, const N: usize> = Bound<'py, PyArray<T, Dim<[usize; N]>>>;

type Qc<'py> = (
    Arr<'py, f32, 2>,
    Arr<'py, f32, 2>,
    Arr<'py, f32, 2>,
    Arr<'py, f32, 2>,
);

fn qc_arrays<'py>(py: Python<'py>, qc: &[WindowQc], shape: [usize; 2]) -> PyResult<Qc<'py>> {
    Ok((
        array(py, qc.iter().map(|q| q.std).collect(), shape)?,
        array(py, qc.iter().map(|q| q.max_ratio).collect(), shape)?,
        array(py, qc.iter().map(|q| q.max_over_std).collect(), shape)?,
        array(py, qc.iter().map(|q| q.gap_fraction).collect(), shape)?,
    ))
}

fn time_norm_params(method: &str, smooth_n: usize, clip_std: f32) -> PyResult<TimeNormParams> {
    Ok(TimeNormParams {
        method: TimeNorm::parse(method).map_err(|e| KernelError::new_err(e.to_string()))?,
        smooth_n,
        clip_std,
    })
}

fn parse<T>(r: c4_kernels::Result<T>) -> PyResult<T> {
    r.map_err(|e| KernelError::new_err(e.to_string()))
}

/// Whether every value of a C-contiguous float32 array is finite (checked on all cores).
#[pyfunction]
#[pyo3(signature = (x, threads=None))]
fn all_finite(
    py: Python<'_>,
    x: PyReadonlyArrayDyn<'_, f32>,
    threads: Option<usize>,
) -> PyResult<bool> {
    let values = slice("x", &x)?;
    detached(py, threads, || Ok(c4_kernels::check::all_finite(values)))
}

/// Smallest 5-smooth length >= n.
#[pyfunction]
fn fast_len(n: usize) -> usize {
    fft::fast_len(n)
}

/// Cut, detrend and taper windows; returns (windows, (std, max_ratio, max_over_std,
/// gap_fraction)).
#[pyfunction]
#[pyo3(signature = (data, win_len, step, taper_fraction, zero_run, gaps=None, threads=None))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn windows<'py>(
    py: Python<'py>,
    data: PyReadonlyArray2<'py, f32>,
    win_len: usize,
    step: usize,
    taper_fraction: f64,
    zero_run: usize,
    gaps: Option<PyReadonlyArray2<'py, bool>>,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, f32, 3>, Qc<'py>)> {
    let [c, n] = [data.shape()[0], data.shape()[1]];
    let x = slice("data", &data)?;
    let g = gaps.as_ref().map(|g| slice("gaps", g)).transpose()?;
    let spec = parse(WindowSpec::new(win_len, step, taper_fraction, zero_run))?;
    let w = spec.count(n);
    let (out, qc) = detached(py, threads, || prepare_all(x, c, n, g, &spec))?;
    Ok((
        array(py, out, [c, w, win_len])?,
        qc_arrays(py, &qc, [c, w])?,
    ))
}

/// Time-normalise each row of a 2-D array; returns a new array.
#[pyfunction]
#[pyo3(signature = (x, method, smooth_n, clip_std, threads=None))]
fn time_normalize<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    method: &str,
    smooth_n: usize,
    clip_std: f32,
    threads: Option<usize>,
) -> PyResult<Arr<'py, f32, 2>> {
    let p = time_norm_params(method, smooth_n, clip_std)?;
    let shape = [x.shape()[0], x.shape()[1]];
    let mut out = slice("x", &x)?.to_vec();
    detached(py, threads, || {
        time_normalize_rows(&mut out, shape[1], &p);
        Ok(())
    })?;
    array(py, out, shape)
}

/// Whiten rows of half-spectra; returns (kept bins, offset of the first kept bin).
#[pyfunction]
#[pyo3(signature = (spectra, fs, nfft, freqmin, freqmax, taper_bins, freq_norm, smoothspect_n, threads=None))]
#[allow(clippy::too_many_arguments)]
fn whiten<'py>(
    py: Python<'py>,
    spectra: PyReadonlyArray2<'py, Complex32>,
    fs: f64,
    nfft: usize,
    freqmin: f64,
    freqmax: f64,
    taper_bins: usize,
    freq_norm: &str,
    smoothspect_n: usize,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, Complex32, 2>, usize)> {
    let method = parse(FreqNorm::parse(freq_norm))?;
    let band = parse(Band::new(fs, nfft, freqmin, freqmax, taper_bins))?;
    let rows = spectra.shape()[0];
    if spectra.shape()[1] != nfft / 2 + 1 {
        return Err(KernelError::new_err(format!(
            "spectra: rows hold {} bins, nfft={nfft} needs {}",
            spectra.shape()[1],
            nfft / 2 + 1
        )));
    }
    let s = slice("spectra", &spectra)?;
    let out = detached(py, threads, || {
        whiten_rows(s, nfft, &band, method, smoothspect_n)
    })?;
    Ok((array(py, out, [rows, band.len()])?, band.offset))
}

/// Whitened window spectra of day records; see `c4.kernels.spectra`.
#[pyfunction]
#[pyo3(signature = (
    data, fs, cc_len, step, maxlag, freqmin, freqmax, *, gaps=None, taper_fraction=0.05,
    taper_bins=100, time_norm="none", smooth_n=1, clip_std=3.0, freq_norm="rma",
    smoothspect_n=1, max_gap_fraction=0.0, max_std_ratio=f32::INFINITY,
    max_over_std=f32::INFINITY, qc_band=None, rma_band=None, multiband_n=4, mute_factor=None,
    mute_band=None, phase=false, threads=None
))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn spectra<'py>(
    py: Python<'py>,
    data: PyReadonlyArray2<'py, f32>,
    fs: f64,
    cc_len: f64,
    step: f64,
    maxlag: f64,
    freqmin: f64,
    freqmax: f64,
    gaps: Option<PyReadonlyArray2<'py, bool>>,
    taper_fraction: f64,
    taper_bins: usize,
    time_norm: &str,
    smooth_n: usize,
    clip_std: f32,
    freq_norm: &str,
    smoothspect_n: usize,
    max_gap_fraction: f32,
    max_std_ratio: f32,
    max_over_std: f32,
    qc_band: Option<(f64, f64)>,
    rma_band: Option<(f64, f64)>,
    multiband_n: usize,
    mute_factor: Option<f32>,
    mute_band: Option<(f64, f64)>,
    phase: bool,
    threads: Option<usize>,
) -> PyResult<SpectraOut<'py>> {
    let settings = SpectraSettings {
        fs,
        cc_len,
        step,
        taper_fraction,
        maxlag,
        freqmin,
        freqmax,
        taper_bins,
        time_norm: time_norm_params(time_norm, smooth_n, clip_std)?,
        freq_norm: parse(FreqNorm::parse(freq_norm))?,
        smoothspect_n,
        max_gap_fraction,
        max_std_ratio,
        max_over_std,
        qc_band,
        rma_band,
        multiband_n,
        mute: mute_factor.map(|f| (f, mute_band.unwrap_or((freqmin, freqmax)))),
        kind: if phase {
            SpectraKind::Phase
        } else {
            SpectraKind::Band
        },
    };
    let p = parse(settings.params())?;
    let [c, n] = [data.shape()[0], data.shape()[1]];
    let x = slice("data", &data)?;
    let g = gaps.as_ref().map(|g| slice("gaps", g)).transpose()?;
    let s = detached(py, threads, || spec::compute(x, c, n, g, &p))?;
    let l = s.layout;
    let shape = [l.n_channels, l.n_windows];
    Ok((
        aligned_array(
            py,
            s.packed,
            [l.n_channels, l.n_chunks(), l.n_windows, CHUNK],
        )?,
        l.n_bins,
        array(py, s.valid, shape)?,
        qc_arrays(py, &s.qc, shape)?,
        array(
            py,
            s.qc.iter().map(|q| q.rejection(&p.qc) as u8).collect(),
            shape,
        )?,
        array(
            py,
            s.muted.iter().map(|&m| m as u64).collect(),
            [l.n_channels],
        )?,
        s.offset,
        s.nfft,
    ))
}

/// What `spectra` returns: (packed, n_bins, valid, qc, rejection reasons, muted samples,
/// offset, nfft).
type SpectraOut<'py> = (
    Bound<'py, PyAny>,
    usize,
    Arr<'py, bool, 2>,
    Qc<'py>,
    Arr<'py, u8, 2>,
    Arr<'py, u64, 1>,
    usize,
    usize,
);

/// Correlate pairs of window spectra; returns ((pair, group, lag) correlations, (pair, group)
/// window counts).
#[pyfunction]
#[pyo3(signature = (packed, n_bins, valid, offset, nfft, pairs, maxlag_n, cc_method="xcorr", substack=0, smoothspect_n=1, phase=false, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn correlate<'py>(
    py: Python<'py>,
    packed: PyReadonlyArray4<'py, f32>,
    n_bins: usize,
    valid: PyReadonlyArray2<'py, bool>,
    offset: usize,
    nfft: usize,
    pairs: PyReadonlyArray2<'py, i64>,
    maxlag_n: usize,
    cc_method: &str,
    substack: usize,
    smoothspect_n: usize,
    phase: bool,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, f32, 3>, Arr<'py, u32, 2>)> {
    let layout = packed_layout(packed.shape(), n_bins)?;
    let view = SpectraView {
        layout,
        offset,
        nfft,
        packed: slice("packed", &packed)?,
        valid: slice("valid", &valid)?,
        kind: if phase {
            SpectraKind::Phase
        } else {
            SpectraKind::Band
        },
    };
    if pairs.shape()[1] != 2 {
        return Err(KernelError::new_err("pairs: must have shape (n_pairs, 2)"));
    }
    let pair_list: Vec<[usize; 2]> = slice("pairs", &pairs)?
        .chunks(2)
        .map(|p| {
            let ok = p.iter().all(|&c| c >= 0);
            ok.then(|| [p[0] as usize, p[1] as usize])
        })
        .collect::<Option<_>>()
        .ok_or_else(|| KernelError::new_err("pairs: channel indices must be >= 0"))?;
    let params = CorrParams {
        method: parse(CcMethod::parse(cc_method))?,
        maxlag_n,
        substack,
        smoothspect_n,
    };
    let out = detached(py, threads, || corr::correlate(&view, &pair_list, &params))?;
    let groups = [out.n_pairs, out.n_groups];
    Ok((
        array(py, out.data, [out.n_pairs, out.n_groups, out.n_lags])?,
        array(py, out.counts, groups)?,
    ))
}

#[allow(clippy::too_many_arguments)]
fn stack_method(
    method: &str,
    pws_power: f32,
    robust_epsilon: f32,
    robust_max_iter: usize,
    nroot_power: f32,
    tfpws_band: (f32, f32),
    selective_threshold: f32,
) -> PyResult<StackMethod> {
    Ok(match parse(StackKind::parse(method))? {
        StackKind::Linear => StackMethod::Linear,
        StackKind::Pws => StackMethod::Pws { power: pws_power },
        StackKind::Robust => StackMethod::Robust {
            epsilon: robust_epsilon,
            max_iter: robust_max_iter,
        },
        StackKind::Nroot => StackMethod::Nroot { n: nroot_power },
        StackKind::Tfpws => StackMethod::Tfpws {
            power: pws_power,
            fmin: tfpws_band.0,
            fmax: tfpws_band.1,
        },
        StackKind::Selective => StackMethod::Selective {
            threshold: selective_threshold,
        },
    })
}

/// Stack (pair, time, lag) traces along time; returns ((pair, lag) stacks, (pair, time) weights).
#[pyfunction]
#[pyo3(signature = (x, method, pws_power=2.0, robust_epsilon=1e-6, robust_max_iter=10, nroot_power=2.0, tfpws_band=(0.0, 0.5), selective_threshold=0.0, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn stack<'py>(
    py: Python<'py>,
    x: PyReadonlyArray3<'py, f32>,
    method: &str,
    pws_power: f32,
    robust_epsilon: f32,
    robust_max_iter: usize,
    nroot_power: f32,
    tfpws_band: (f32, f32),
    selective_threshold: f32,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, f32, 2>, Arr<'py, f32, 2>)> {
    let m = stack_method(
        method,
        pws_power,
        robust_epsilon,
        robust_max_iter,
        nroot_power,
        tfpws_band,
        selective_threshold,
    )?;
    let [p, t, l] = [x.shape()[0], x.shape()[1], x.shape()[2]];
    let data = slice("x", &x)?;
    let out = detached(py, threads, || stk::stack(data, p, t, l, m))?;
    Ok((
        array(py, out.data, [p, l])?,
        array(py, out.weights, [p, t])?,
    ))
}

/// Stack pairs of different trace counts: pair p holds rows offsets[p]..offsets[p+1] of the
/// (traces, lag) array x; returns ((pair, lag) stacks, (traces,) weights).
#[pyfunction]
#[pyo3(signature = (x, offsets, method, pws_power=2.0, robust_epsilon=1e-6, robust_max_iter=10, nroot_power=2.0, tfpws_band=(0.0, 0.5), selective_threshold=0.0, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn stack_ragged<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    offsets: PyReadonlyArray1<'py, i64>,
    method: &str,
    pws_power: f32,
    robust_epsilon: f32,
    robust_max_iter: usize,
    nroot_power: f32,
    tfpws_band: (f32, f32),
    selective_threshold: f32,
    threads: Option<usize>,
) -> PyResult<(Arr<'py, f32, 2>, Arr<'py, f32, 1>)> {
    let m = stack_method(
        method,
        pws_power,
        robust_epsilon,
        robust_max_iter,
        nroot_power,
        tfpws_band,
        selective_threshold,
    )?;
    let l = x.shape()[1];
    let offsets: Vec<usize> = slice("offsets", &offsets)?
        .iter()
        .map(|&o| usize::try_from(o))
        .collect::<Result<_, _>>()
        .map_err(|_| PyValueError::new_err("offsets: must be >= 0"))?;
    let data = slice("x", &x)?;
    let out = detached(py, threads, || stk::stack_ragged(data, &offsets, l, m))?;
    let n_traces = out.weights.len();
    Ok((
        array(py, out.data, [offsets.len().saturating_sub(1), l])?,
        array(py, out.weights, [n_traces])?,
    ))
}

/// Sum over time of the unit phasors of the analytic signal: (pair, lag) complex64.
#[pyfunction]
#[pyo3(signature = (x, threads=None))]
fn phase_sum<'py>(
    py: Python<'py>,
    x: PyReadonlyArray3<'py, f32>,
    threads: Option<usize>,
) -> PyResult<Arr<'py, Complex32, 2>> {
    let [p, t, l] = [x.shape()[0], x.shape()[1], x.shape()[2]];
    let data = slice("x", &x)?;
    let out = detached(py, threads, || stk::phase_sum(data, p, t, l))?;
    array(py, out, [p, l])
}

/// Pack (channel, window, bin) complex64 spectra into the kernels' layout.
#[pyfunction]
fn pack<'py>(
    py: Python<'py>,
    spectra: PyReadonlyArray3<'py, Complex32>,
) -> PyResult<Arr<'py, f32, 4>> {
    let shape = spectra.shape();
    let layout = Layout {
        n_channels: shape[0],
        n_windows: shape[1],
        n_bins: shape[2],
    };
    let data = slice("spectra", &spectra)?;
    let out = detached(py, None, || Ok(packed::pack(data, layout)))?;
    array(
        py,
        out,
        [
            layout.n_channels,
            layout.n_chunks(),
            layout.n_windows,
            CHUNK,
        ],
    )
}

/// Unpack the kernels' layout into (channel, window, bin) complex64 spectra.
#[pyfunction]
fn unpack<'py>(
    py: Python<'py>,
    packed: PyReadonlyArray4<'py, f32>,
    n_bins: usize,
) -> PyResult<Arr<'py, Complex32, 3>> {
    let layout = packed_layout(packed.shape(), n_bins)?;
    let data = slice("packed", &packed)?;
    let out = detached(py, None, || Ok(packed::unpack(data, layout)))?;
    array(py, out, [layout.n_channels, layout.n_windows, n_bins])
}

/// Number of threads kernels use by default (`C4_NUM_THREADS`, else all CPUs).
#[pyfunction]
fn default_threads() -> usize {
    pool::default_threads()
}

#[pymodule]
fn _kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("KernelError", m.py().get_type::<KernelError>())?;
    m.add_function(wrap_pyfunction!(all_finite, m)?)?;
    m.add_function(wrap_pyfunction!(fast_len, m)?)?;
    m.add_function(wrap_pyfunction!(windows, m)?)?;
    m.add_function(wrap_pyfunction!(time_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(whiten, m)?)?;
    m.add_function(wrap_pyfunction!(spectra, m)?)?;
    m.add_function(wrap_pyfunction!(correlate, m)?)?;
    m.add_function(wrap_pyfunction!(stack, m)?)?;
    m.add_function(wrap_pyfunction!(stack_ragged, m)?)?;
    m.add_function(wrap_pyfunction!(phase_sum, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(pack, m)?)?;
    m.add_function(wrap_pyfunction!(unpack, m)?)?;
    dvv::register(m)?;
    preprocess::register(m)?;
    m.add("LANES", LANES)?;
    m.add("REJECTIONS", Rejection::NAMES.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
