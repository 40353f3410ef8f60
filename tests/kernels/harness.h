// Kernel tests on the CPU: the kernels of kernels/hip, compiled for the host against an
// emulation of CUDA's threads (emu/), run on random inputs and compared with ggml-cpu.
//
// A case builds one ggml node on fresh seeded random inputs, fills the kernel's args the way
// the op's Rust `select()` does, and calls Case::run, which
//   - poisons every output element the node writes (a signalling-NaN pattern) and puts poisoned
//     guard bytes around the output buffer,
//   - computes the node with ggml-cpu (the reference),
//   - runs the kernel twice on the emulated GPU, threads and blocks in forward and in reverse
//     order, each time into a fresh copy of the poisoned buffer, with the launch geometry the
//     Rust `gpu()` of the op chooses,
//   - and fails the case on: a fault (deadlock, bad shuffle), an element left unwritten, a byte
//     written outside the output's elements or into a source, a NaN, an inf mismatch, a
//     normalised MSE above test-backend-ops' threshold for the op, or a difference between the
//     two orders.
#pragma once
#include "emu.h"
#include "kernels.h"

#include "ggml-cpu.h"
#include "ggml.h"

#include <cstdarg>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace kt {

// A kernel launch (grid, block), as ops/*.rs `gpu()` returns it.
struct Launch {
    dim3 grid, block;
};

// The grid limit the Rust side spreads rows over (gpu/mod.rs MAX_GRID_YZ is 65535). The tests
// use a small one, so that a few hundred rows already spread over grid z.
constexpr size_t MAX_GRID_YZ = 7;
// gpu::Launch::rows: a 1-D block of `threads` over blocks_x x rows, rows over grid y and z.
Launch rows(unsigned threads, size_t blocks_x, size_t nrows);
// ops::tiles: (tx, 256 / tx) blocks, tx the power of two covering ne0 (at most 256).
Launch tiles(size_t ne0, size_t nrows);
// ops::row_threads: about 8 elements per thread, a power of two from 32 to 1024.
unsigned row_threads(size_t ne0);

// What the Rust side reads from a node (tensor.rs, ops/mod.rs).
ucn_layout layout(const ggml_tensor *t);
inline int32_t op_i32(const ggml_tensor *t, int i) { return t->op_params[i]; }
inline float op_f32(const ggml_tensor *t, int i) {
    float f;
    memcpy(&f, &t->op_params[i], sizeof f);
    return f;
}
// Layout::is_dense: rows packed one after another, elements of `elem` bytes.
inline bool is_dense(const ucn_layout &l, size_t elem) {
    return l.nb[0] == elem && l.nb[1] == l.nb[0] * l.ne[0] && l.nb[2] == l.nb[1] * l.ne[1] && l.nb[3] == l.nb[2] * l.ne[2];
}
// Tensor::rows_contiguous: element stride = type size, whole blocks per row.
inline bool rows_contiguous(const ggml_tensor *t) {
    return t->nb[0] == ggml_type_size(t->type) && t->ne[0] % ggml_blck_size(t->type) == 0;
}
inline bool same_shape(const ggml_tensor *a, const ggml_tensor *b) {
    return a->ne[0] == b->ne[0] && a->ne[1] == b->ne[1] && a->ne[2] == b->ne[2] && a->ne[3] == b->ne[3];
}
std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

// Which output elements a node writes (default: all of them).
using Written = std::function<bool(int64_t i0, int64_t i1, int64_t i2, int64_t i3)>;

class Case {
public:
    Case(const std::string &name, uint64_t seed);
    ~Case();
    Case(const Case &) = delete;
    Case &operator=(const Case &) = delete;

    ggml_context *ctx;
    std::mt19937_64 rng;

    // A new tensor, filled with uniform random values in [lo, hi) (quantized types: random
    // rows quantized; I32/I64: integers in [lo, hi)).
    ggml_tensor *tensor(ggml_type type, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1, int64_t ne3 = 1, float lo = -1.0f,
                        float hi = 1.0f);
    void fill(ggml_tensor *t, float lo = -1.0f, float hi = 1.0f);
    float uniform(float lo, float hi);
    int64_t below(int64_t n); // uniform integer in [0, n)

    // Runs kernel k with args a over launch l against ggml-cpu's value of node `out`.
    template <typename A>
    void run(ggml_tensor *out, void (*k)(const A, const ucn_ptrs), const Launch &l, const A &a,
             const Written &written = nullptr) {
        struct Call {
            void (*k)(const A, const ucn_ptrs);
            A a;
            ucn_ptrs p;
        } call{k, a, {}};
        run_erased(out, l, written, &call.p, &call, [](void *c) {
            const Call *x = (const Call *)c;
            x->k(x->a, x->p);
        });
    }

    // As run, for a fused kernel: its sources (ucn_ptrs slot i = sources[i]) are given
    // instead of out's own, and `out` is the last node of the fused run (ggml-cpu computes
    // the whole run, unfused, as the reference).
    template <typename A>
    void run_fused(ggml_tensor *out, const std::vector<const ggml_tensor *> &sources, void (*k)(const A, const ucn_ptrs),
                   const Launch &l, const A &a) {
        struct Call {
            void (*k)(const A, const ucn_ptrs);
            A a;
            ucn_ptrs p;
        } call{k, a, {}};
        sources_ = &sources;
        run_erased(out, l, nullptr, &call.p, &call, [](void *c) {
            const Call *x = (const Call *)c;
            x->k(x->a, x->p);
        });
        sources_ = nullptr;
    }

    // Marks the case failed with a message (harness-side problems, such as a node the Rust
    // select() would not claim).
    void fail(const std::string &msg);
    // Runs a selected kernel: `sel` is the op's select() mirror (nullopt: not claimed), and
    // `launch(args)` returns (kernel, geometry), the op's gpu() mirror.
    template <typename A, typename Sel, typename Gpu>
    void run_op(const char *rs, ggml_tensor *out, Sel sel, Gpu gpu, const Written &written = nullptr) {
        const std::optional<A> a = sel(out);
        if (!a) {
            fail(std::string("harness: backend/unicorn/src/ops/") + rs + " select() would not claim this node");
            return;
        }
        const auto [k, l] = gpu(*a);
        if (!k) {
            fail(std::string("harness: ops/") + rs + " gpu() has no kernel for this node");
            return;
        }
        run(out, k, l, *a, written);
    }

    // Results, read by the runner.
    bool ok = true;
    bool ran = false;
    bool exact = true;      // every written element equal to the reference, to the bit
    double nmse = 0.0;      // worst over the runs
    double threshold = 0.0; // test-backend-ops' max_nmse_err for the node
    size_t n_elems = 0;
    std::vector<std::string> msgs;

private:
    const std::vector<const ggml_tensor *> *sources_ = nullptr; // run_fused's sources
    void run_erased(ggml_tensor *out, const Launch &l, const Written &written, ucn_ptrs *p, void *call,
                    void (*body)(void *));
};

// Registration: each file of cases (named after the kernel file it tests) has one
//   KT_CASES(get_rows) { cases.add(name, [](kt::Case &c) { ... }); }
class Cases {
public:
    explicit Cases(const char *op) : op_(op) {}
    void add(const std::string &name, std::function<void(Case &)> body);

private:
    const char *op_;
};
struct Register {
    Register(const char *op, void (*add)(Cases &));
};
struct CaseDef {
    std::string op, name;
    std::function<void(Case &)> body;
};
std::vector<CaseDef> &registry();

} // namespace kt

#define KT_CASES(op)                                                                                                   \
    static void kt_cases_##op(kt::Cases &cases);                                                                       \
    static kt::Register kt_register_##op(#op, kt_cases_##op);                                                          \
    static void kt_cases_##op(kt::Cases &cases)
