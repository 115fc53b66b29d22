//! The traces of one channel-day as contiguous runs, the way obspy's `merge(method=1)` joins
//! them: traces at the same rate whose start falls within half a sample of where the run
//! expects its next sample continue the run; a trace that starts inside a run replaces the
//! samples it covers (the later trace is taken to carry the better timing, as obspy's method 1
//! does); a gap of a sample or more, or a change of rate, starts a new run.

use super::Trace;

/// Samples `start..start + len` of trace `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub trace: usize,
    pub start: usize,
    pub len: usize,
}

/// Samples without a gap at one rate: the first at `start` seconds after the grid origin, the
/// `i`-th at `start + i / rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub start: f64,
    pub rate: f64,
    pub pieces: Vec<Piece>,
}

impl Run {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.len).sum()
    }

    /// Whether the run holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces that make up samples `lo..hi` of the run.
    fn slice(&self, lo: usize, hi: usize) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut at = 0;
        for p in &self.pieces {
            let (a, b) = (lo.max(at), hi.min(at + p.len));
            if a < b {
                out.push(Piece {
                    trace: p.trace,
                    start: p.start + (a - at),
                    len: b - a,
                });
            }
            at += p.len;
        }
        out
    }

    /// Keep samples `lo..hi` only (the start time moves with `lo`).
    pub fn keep(&mut self, lo: usize, hi: usize) {
        self.pieces = self.slice(lo, hi);
        self.start += lo as f64 / self.rate;
    }

    /// Put `piece` at sample `at` of the run (`at <= len`), replacing the samples it covers.
    fn splice(&mut self, at: usize, piece: Piece) {
        let n = self.len();
        let tail = self.slice((at + piece.len).min(n), n);
        self.pieces = self.slice(0, at);
        self.pieces.push(piece);
        self.pieces.extend(tail);
    }
}

/// Whether two rates are the same (obspy merges only equal rates).
fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// The runs of `traces`, in order of start time (ties keep the order of `traces`).
pub fn runs(traces: &[Trace<'_>]) -> Vec<Run> {
    let mut order: Vec<usize> = (0..traces.len())
        .filter(|&i| !traces[i].samples.is_empty())
        .collect();
    order.sort_by(|&a, &b| traces[a].start.total_cmp(&traces[b].start).then(a.cmp(&b)));
    let mut out: Vec<Run> = Vec::new();
    for i in order {
        let t = &traces[i];
        let piece = Piece {
            trace: i,
            start: 0,
            len: t.samples.len(),
        };
        if let Some(run) = out.last_mut() {
            if same_rate(run.rate, t.rate) {
                // Where the trace's first sample falls in the run, in whole samples.
                let at = ((t.start - run.start) * run.rate).round();
                if at <= run.len() as f64 {
                    run.splice(at.max(0.0) as usize, piece);
                    continue;
                }
            }
        }
        out.push(Run {
            start: t.start,
            rate: t.rate,
            pieces: vec![piece],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::Samples;

    fn trace(start: f64, rate: f64, x: &[i32]) -> Trace<'_> {
        Trace {
            start,
            rate,
            samples: Samples::I32(x),
        }
    }

    fn values(run: &Run, data: &[&[i32]]) -> Vec<i32> {
        run.pieces
            .iter()
            .flat_map(|p| data[p.trace][p.start..p.start + p.len].to_vec())
            .collect()
    }

    #[test]
    fn contiguous_traces_join_within_half_a_sample() {
        let (a, b) = ([1, 2, 3], [4, 5]);
        // b starts 0.4 samples late: still contiguous
        let runs = runs(&[trace(3.0 + 0.04, 10.0, &b), trace(2.7, 10.0, &a)]);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].start, 2.7);
        assert_eq!(values(&runs[0], &[&b, &a]), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_gap_of_one_sample_or_a_new_rate_starts_a_new_run() {
        let (a, b, c) = ([1, 2], [3, 4], [5, 6]);
        let runs = runs(&[
            trace(0.0, 10.0, &a),
            trace(0.3, 10.0, &b),
            trace(0.5, 20.0, &c),
        ]);
        assert_eq!(runs.len(), 3);
        assert_eq!(
            runs.iter().map(|r| (r.start, r.rate)).collect::<Vec<_>>(),
            [(0.0, 10.0), (0.3, 10.0), (0.5, 20.0)]
        );
    }

    #[test]
    fn a_later_trace_replaces_the_samples_it_overlaps() {
        let (a, b, c) = ([1, 2, 3, 4, 5, 6], [20, 30], [50, 60, 70]);
        // b covers samples 1..3 of a, c overlaps a's last two samples and extends the run
        let data: [&[i32]; 3] = [&a, &b, &c];
        let runs = runs(&[
            trace(0.0, 1.0, &a),
            trace(1.0, 1.0, &b),
            trace(4.0, 1.0, &c),
        ]);
        assert_eq!(runs.len(), 1);
        assert_eq!(values(&runs[0], &data), [1, 20, 30, 4, 50, 60, 70]);
    }

    #[test]
    fn keep_trims_samples_and_moves_the_start() {
        let (a, b) = ([1, 2, 3], [4, 5, 6]);
        let mut run = runs(&[trace(0.0, 2.0, &a), trace(1.5, 2.0, &b)]).remove(0);
        run.keep(2, 5);
        assert_eq!(run.start, 1.0);
        assert_eq!(values(&run, &[&a, &b]), [3, 4, 5]);
    }
}
