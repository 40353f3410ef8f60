//! mul_mat: the reference engine's quantized matrix-vector and matrix-matrix kernels
//! (the emulated iGPU path), by weight type. Throughput is weight bytes streamed.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ggml_unicorn::quants;

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
}

fn bench(c: &mut Criterion) {
    use ggml_sys::ggml_type as ty;
    let (k, rows) = (2048usize, 2048usize);
    let mut seed = 1;
    let x: Vec<f32> = (0..k).map(|_| lcg(&mut seed)).collect();
    let mut g = c.benchmark_group("ref_mul_mat");
    for (name, t) in [("q4_0", ty::GGML_TYPE_Q4_0), ("q8_0", ty::GGML_TYPE_Q8_0), ("q4_K", ty::GGML_TYPE_Q4_K), ("q6_K", ty::GGML_TYPE_Q6_K)] {
        let f = quants::format(t).unwrap();
        let row_bytes = k / f.block_elems * f.block_bytes;
        // Random bytes are valid blocks except for the f16 scales: keep those small.
        let mut w: Vec<u8> = (0..rows * row_bytes).map(|_| (lcg(&mut seed) * 255.0) as i8 as u8).collect();
        for r in 0..rows {
            for b in 0..k / f.block_elems {
                let o = r * row_bytes + b * f.block_bytes;
                let scale_at = if t == ty::GGML_TYPE_Q6_K { o + f.block_bytes - 2 } else { o };
                w[scale_at..scale_at + 2].copy_from_slice(&half::f16::from_f32(0.01).to_le_bytes());
            }
        }
        let mut act = vec![0u8; quants::activation_row_bytes(t, k)];
        quants::quantize_activation_row(t, &x, &mut act);
        g.throughput(Throughput::Bytes((rows * row_bytes) as u64));
        g.bench_with_input(BenchmarkId::new("matvec", name), &t, |b, &t| {
            b.iter(|| (0..rows).map(|r| quants::vec_dot(t, k, &w[r * row_bytes..(r + 1) * row_bytes], &act)).sum::<f32>())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
