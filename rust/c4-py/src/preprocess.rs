//! Bindings of `c4_kernels::preprocess`: one channel-day onto a row of the day's records.

use crate::{slice, KernelError};
use c4_kernels::preprocess::{self as pre, GridSpec, Placement, Response, Samples, Trace};
use num_complex::Complex64;
use numpy::{PyReadonlyArray1, PyReadwriteArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A borrowed trace of one of the sample types the decoder delivers.
enum Borrowed<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
}

impl<'py> Borrowed<'py> {
    fn new(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = x.extract::<PyReadonlyArray1<'py, i32>>() {
            return Ok(Borrowed::I32(a));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray1<'py, f32>>() {
            return Ok(Borrowed::F32(a));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray1<'py, f64>>() {
            return Ok(Borrowed::F64(a));
        }
        Err(PyTypeError::new_err(
            "samples: each trace must be a 1-D int32, float32 or float64 numpy array",
        ))
    }

    fn samples(&self) -> PyResult<Samples<'_>> {
        Ok(match self {
            Borrowed::I32(a) => Samples::I32(slice("samples", a)?),
            Borrowed::F32(a) => Samples::F32(slice("samples", a)?),
            Borrowed::F64(a) => Samples::F64(slice("samples", a)?),
        })
    }
}

/// (start s, rate Hz, input samples, first grid sample, grid samples, placement, factor).
type SegmentTuple = (f64, f64, usize, usize, usize, &'static str, usize);

/// Fill `out` and `gaps` (1-D, writable, `npts` long) from one channel's traces; returns
/// (covered grid samples, runs left out as not finite, per-run segments).
#[pyfunction]
#[pyo3(signature = (
    samples, starts, rates, out, gaps, fs, *, margin=60.0, taper_fraction=0.05, taper_max=60.0,
    response=None, response_f0=0.0, response_df=0.0, pre_filt=None, water_level=60.0
))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn to_grid<'py>(
    py: Python<'py>,
    samples: Vec<Bound<'py, PyAny>>,
    starts: Vec<f64>,
    rates: Vec<f64>,
    mut out: PyReadwriteArray1<'py, f32>,
    mut gaps: PyReadwriteArray1<'py, bool>,
    fs: f64,
    margin: f64,
    taper_fraction: f64,
    taper_max: f64,
    response: Option<PyReadonlyArray1<'py, Complex64>>,
    response_f0: f64,
    response_df: f64,
    pre_filt: Option<[f64; 4]>,
    water_level: f64,
) -> PyResult<(usize, usize, Vec<SegmentTuple>)> {
    if samples.len() != starts.len() || samples.len() != rates.len() {
        return Err(PyValueError::new_err(
            "samples, starts and rates must have one entry per trace",
        ));
    }
    let borrowed = samples
        .iter()
        .map(Borrowed::new)
        .collect::<PyResult<Vec<_>>>()?;
    let traces = borrowed
        .iter()
        .zip(starts.iter().zip(&rates))
        .map(|(b, (&start, &rate))| {
            Ok(Trace {
                start,
                rate,
                samples: b.samples()?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let npts = out.len();
    let spec = GridSpec {
        fs,
        npts,
        margin,
        taper_fraction,
        taper_max,
    };
    let values = response
        .as_ref()
        .map(|r| slice("response", r))
        .transpose()?;
    let resp = match (values, pre_filt) {
        (Some(values), Some(pre_filt)) => Some(Response {
            values,
            f0: response_f0,
            df: response_df,
            pre_filt,
            water_level_db: water_level,
        }),
        (None, _) => None,
        (Some(_), None) => {
            return Err(KernelError::new_err(
                "pre_filt: needed with a response to remove",
            ))
        }
    };
    let out = out.as_slice_mut().map_err(|_| {
        PyTypeError::new_err("out: array must be C-contiguous (a row of a C-contiguous array)")
    })?;
    let gaps = gaps
        .as_slice_mut()
        .map_err(|_| PyTypeError::new_err("gaps: array must be C-contiguous"))?;
    let report = py
        .detach(|| pre::to_grid(&traces, &spec, resp.as_ref(), out, gaps))
        .map_err(|e| KernelError::new_err(e.to_string()))?;
    let segments = report
        .segments
        .iter()
        .map(|s| {
            let (name, factor) = match s.placement {
                Placement::Copy => ("copy", 1),
                Placement::Decimate(q) => ("decimate", q),
                Placement::Resample => ("resample", 0),
            };
            (s.start, s.rate, s.samples, s.first, s.count, name, factor)
        })
        .collect();
    Ok((report.covered, report.non_finite, segments))
}

/// Register the preprocessing functions on the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(to_grid, m)?)
}
