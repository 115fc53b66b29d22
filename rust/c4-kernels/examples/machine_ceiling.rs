//! What a machine gives when every thread works alone: the ceiling against which the kernels'
//! thread scaling is judged (benches/RESULTS.md). For 1, 2, 4, ... threads up to the CPUs of
//! the process it prints the rate of
//!
//! - 40 000-point real FFTs, each thread on its own buffers (in cache);
//! - a latency-bound scalar multiply-add loop and an AVX2 FMA loop with ten independent
//!   chains (bound by the FMA ports, which hyperthread siblings share);
//! - first-touch page faults on 1 GiB, with 4 KiB pages and with transparent huge pages
//!   (`c4_kernels::memory::zeroed`);
//! - reads of a 2 GiB array.
//!
//! `cargo run --release --example machine_ceiling -p c4-kernels`

use rayon::prelude::*;
use realfft::RealFftPlanner;
use std::time::Instant;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Forward FFTs per second over all threads.
fn fft_rate(threads: usize) -> f64 {
    let plan = RealFftPlanner::<f32>::new().plan_fft_forward(40_000);
    let per_thread = 200;
    let signal: Vec<f32> = (0..40_000).map(|i| (i % 97) as f32).collect();
    pool(threads).install(|| {
        let run = || {
            (0..threads).into_par_iter().for_each(|_| {
                let mut x = plan.make_input_vec();
                let mut y = plan.make_output_vec();
                let mut scratch = plan.make_scratch_vec();
                for _ in 0..per_thread {
                    // The transform uses its input as scratch: start from the signal each time.
                    x.copy_from_slice(&signal);
                    plan.process_with_scratch(&mut x, &mut y, &mut scratch)
                        .expect("sizes match the plan");
                }
                std::hint::black_box(&y);
            })
        };
        run();
        let t = Instant::now();
        run();
        (threads * per_thread) as f64 / t.elapsed().as_secs_f64()
    })
}

/// Scalar multiply-adds per second (16 dependent chains per thread).
fn scalar_rate(threads: usize) -> f64 {
    let iters = 200_000_000u64;
    pool(threads).install(|| {
        let t = Instant::now();
        let s: f32 = (0..threads)
            .into_par_iter()
            .map(|k| {
                let mut a = [1.0f32 + k as f32 * 1e-7; 16];
                for _ in 0..iters / 16 {
                    for v in a.iter_mut() {
                        *v = v.mul_add(0.999_999, 1e-7);
                    }
                }
                a.iter().sum::<f32>()
            })
            .sum();
        std::hint::black_box(s);
        (threads as u64 * iters) as f64 / t.elapsed().as_secs_f64()
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains(n: u64, seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm256_set1_ps(0.999_999);
    let c = _mm256_set1_ps(1e-7);
    let mut a = [_mm256_set1_ps(seed); 10];
    for _ in 0..n {
        for v in a.iter_mut() {
            *v = _mm256_fmadd_ps(*v, m, c);
        }
    }
    let mut out = [0.0f32; 8];
    let s = a[1..].iter().fold(a[0], |s, v| _mm256_add_ps(s, *v));
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}

/// AVX2 FMA lane operations per second, in G/s (0 without AVX2 and FMA).
fn fma_rate(threads: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        let n = 100_000_000u64;
        return pool(threads).install(|| {
            let t = Instant::now();
            let s: f32 = (0..threads)
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                .into_par_iter()
                .map(|k| unsafe { fma_chains(n, 1.0 + k as f32) })
                .sum();
            std::hint::black_box(s);
            (threads as u64 * n * 80) as f64 / t.elapsed().as_secs_f64() / 1e9
        });
    }
    0.0
}

/// GB/s of first-touch page faults on a fresh 1 GiB buffer, all threads touching.
fn fault_rate(threads: usize, huge: bool) -> f64 {
    let len = (1usize << 30) / 4;
    pool(threads).install(|| {
        let mut v = if huge {
            c4_kernels::memory::zeroed(len)
        } else {
            vec![0.0f32; len]
        };
        let t = Instant::now();
        v.par_chunks_mut(1 << 18).for_each(|c| {
            c.iter_mut().step_by(1024).for_each(|x| *x = 1.0);
        });
        let rate = (len * 4) as f64 / 1e9 / t.elapsed().as_secs_f64();
        std::hint::black_box(&v);
        rate
    })
}

/// GB/s reading `data` (best of three).
fn read_rate(threads: usize, data: &[f32]) -> f64 {
    pool(threads).install(|| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let s: f32 = data
                    .par_chunks(1 << 18)
                    .map(|c| {
                        let mut acc = [0.0f32; 16];
                        for w in c.chunks_exact(16) {
                            acc.iter_mut().zip(w).for_each(|(a, x)| *a += x);
                        }
                        acc.iter().sum::<f32>()
                    })
                    .sum();
                std::hint::black_box(s);
                (data.len() * 4) as f64 / 1e9 / t.elapsed().as_secs_f64()
            })
            .fold(0.0, f64::max)
    })
}

fn main() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Touch memory once so that the fault rates measure the guest kernel, not a hypervisor
    // backing the VM's memory for the first time.
    drop(std::hint::black_box(vec![1u8; 3 << 30]));
    let data: Vec<f32> = (0..(1usize << 29)).map(|i| (i & 7) as f32).collect();
    let base = (fft_rate(1), scalar_rate(1), fma_rate(1));
    println!("threads   FFT/s (x1)   scalar MAC/s (x1)   AVX2 FMA G/s (x1)   faults GB/s 4K  THP   read GB/s");
    let counts = std::iter::successors(Some(1usize), |t| Some(t * 2)).take_while(|&t| t <= cpus);
    for t in counts {
        let (f, s, v) = (fft_rate(t), scalar_rate(t), fma_rate(t));
        println!(
            "{t:7} {f:8.0} {:5.2} {s:12.3e} {:5.2} {v:12.1} {:5.2} {:14.2} {:5.2} {:9.1}",
            f / base.0,
            s / base.1,
            v / base.2,
            fault_rate(t, false),
            fault_rate(t, true),
            read_rate(t, &data),
        );
    }
}
