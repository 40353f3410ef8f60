// The CPU runner of the emulated CUDA launch (see cuda_runtime.h): blocks one after another,
// the threads of a block as fibers on one OS thread, barriers and warp collectives as waits.
#include "emu.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

// Markers around the kernels' object in the link (scripts/test-kernels-cpu.sh links
// shared_begin.o, kernels.o, shared_end.o in that order): the kernels' zero-initialised static
// storage, which is where __shared__ variables live, lies between them.
extern "C" char ucn_emu_shared_begin[], ucn_emu_shared_end[];

namespace ucn_emu {
namespace {

enum State { RUNNABLE, AT_BARRIER, AT_WARP, DONE };

struct Fiber {
    void *sp = nullptr;
    State st = DONE;
    uint3 tid{};
    unsigned lane = 0, warp = 0;
#if !defined(__x86_64__)
    ucontext_t uc;
#endif
};

struct Warp {
    unsigned live = 0;    // lanes alive
    unsigned arrived = 0; // lanes waiting in the collective
    unsigned want = 0;    // union of the masks they passed
    unsigned gen = 0;     // collectives completed
    unsigned part[2] = {0, 0};
    alignas(16) unsigned char slot[2][32][ucn_emu::SLOT];
};

constexpr size_t STACK = 256 * 1024, GUARD = 4096;

struct Runner {
    std::vector<char *> stacks;
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    // Fibers to run: a FIFO per warp (from whead). The first warp in order (the last in reverse
    // order) with a ready lane runs, so a warp runs ahead of the others as far as barriers let
    // it: a read of what another warp has not written yet is seen in one of the two orders.
    std::vector<std::vector<unsigned>> wq;
    std::vector<size_t> whead;
    bool reverse = false;
    Fiber *cur = nullptr;
    void *sched_sp = nullptr;
#if !defined(__x86_64__)
    ucontext_t sched_uc;
#endif
    void (*body)(void *) = nullptr;
    void *ctx = nullptr;
    unsigned live = 0, at_barrier = 0;
    std::string error; // first fault of this launch
};
Runner R;

#if defined(__x86_64__)
// ucn_emu_switch(save, load): pushes the callee-saved registers on this stack, stores the stack
// pointer in *save, and resumes the context whose stack pointer is `load`. (MXCSR and the x87
// control word are left alone: nothing here changes them.)
extern "C" void ucn_emu_switch(void **save, void *load);
asm(R"(
    .text
    .globl ucn_emu_switch
    .type ucn_emu_switch, @function
ucn_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ucn_emu_switch, .-ucn_emu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");
#endif

void push_ready(unsigned t) {
    R.fibers[t].st = RUNNABLE;
    R.wq[R.fibers[t].warp].push_back(t);
}

Fiber *pop_ready() {
    const size_t nw = R.wq.size();
    for (size_t k = 0; k < nw; ++k) {
        const size_t w = R.reverse ? nw - 1 - k : k;
        std::vector<unsigned> &q = R.wq[w];
        if (R.whead[w] < q.size()) {
            const unsigned t = q[R.whead[w]++];
            if (R.whead[w] == q.size()) {
                q.clear();
                R.whead[w] = 0;
            }
            return &R.fibers[t];
        }
    }
    return nullptr;
}

// Makes the lanes in `lanes` of warp w runnable, in lane order (reversed in reverse mode).
void push_lanes(unsigned w, unsigned lanes) {
    for (int k = 0; k < 32; ++k) {
        const int l = R.reverse ? 31 - k : k;
        if (lanes >> l & 1u) {
            push_ready(w * 32 + (unsigned)l);
        }
    }
}

// Completes warp w's pending collective if every lane it waits for has arrived.
void try_complete(unsigned w) {
    Warp &x = R.warps[w];
    const unsigned need = x.want & x.live;
    if (!x.arrived || (x.arrived & need) != need) {
        return;
    }
    x.part[x.gen & 1] = x.arrived;
    x.gen++;
    const unsigned lanes = x.arrived;
    x.arrived = x.want = 0;
    push_lanes(w, lanes);
}

// Leaves the running fiber (already marked blocked or done) for the next ready one, or for
// the scheduler when none is ready.
void switch_away() {
    Fiber *f = R.cur;
    Fiber *n = pop_ready();
    if (n == f) {
        return; // it is itself the next to run (a collective it completed)
    }
    R.cur = n;
    if (n) {
        threadIdx = n->tid;
    }
#if defined(__x86_64__)
    ucn_emu_switch(&f->sp, n ? n->sp : R.sched_sp);
#else
    swapcontext(&f->uc, n ? &n->uc : &R.sched_uc);
#endif
}

void fiber_main() {
    R.body(R.ctx);
    Fiber *f = R.cur;
    f->st = DONE;
    R.live--;
    R.warps[f->warp].live &= ~(1u << f->lane);
    try_complete(f->warp); // it may have been the lane a collective waited for
    switch_away();
    abort(); // a finished fiber is never resumed
}

char *stack(size_t i) {
    while (R.stacks.size() <= i) {
        void *m = mmap(nullptr, STACK + GUARD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            perror("mmap");
            abort();
        }
        mprotect(m, GUARD, PROT_NONE); // overflow faults instead of corrupting a neighbour
        R.stacks.push_back((char *)m);
    }
    return R.stacks[i];
}

void start(Fiber &f, size_t i) {
    char *lo = stack(i) + GUARD;
#if defined(__x86_64__)
    uint64_t *sp = (uint64_t *)(((uintptr_t)lo + STACK) & ~(uintptr_t)15);
    *--sp = 0;                     // fiber_main's return address (it never returns)
    *--sp = (uint64_t)&fiber_main; // where ucn_emu_switch's ret goes
    for (int r = 0; r < 6; ++r) {  // rbp, rbx, r12..r15
        *--sp = 0;
    }
    f.sp = sp;
#else
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = lo;
    f.uc.uc_stack.ss_size = STACK;
    f.uc.uc_link = nullptr;
    makecontext(&f.uc, fiber_main, 0);
#endif
}

// Runs one block to the end; false (with R.error set) on a deadlock.
bool run_block() {
    const unsigned n = blockDim.x * blockDim.y * blockDim.z;
    R.fibers.assign(n, Fiber{});
    R.warps.assign((n + 31) / 32, Warp{});
    R.wq.assign((n + 31) / 32, {});
    R.whead.assign((n + 31) / 32, 0);
    for (unsigned t = 0; t < n; ++t) {
        Fiber &f = R.fibers[t];
        f.tid = uint3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
        f.lane = t % 32;
        f.warp = t / 32;
        R.warps[f.warp].live |= 1u << f.lane;
        start(f, t);
    }
    for (unsigned k = 0; k < n; ++k) {
        push_ready(R.reverse ? n - 1 - k : k);
    }
    R.live = n;
    R.at_barrier = 0;
    memset(ucn_emu_shared_begin, 0xff, ucn_emu_shared_end - ucn_emu_shared_begin);
    for (;;) {
        if (Fiber *fp = pop_ready()) {
            Fiber &f = *fp;
            R.cur = &f;
            threadIdx = f.tid;
#if defined(__x86_64__)
            ucn_emu_switch(&R.sched_sp, f.sp);
#else
            swapcontext(&R.sched_uc, &f.uc);
#endif
            // Back here when no fiber is ready.
            continue;
        }
        if (R.live == 0) {
            return true;
        }
        if (R.at_barrier == R.live) {
            R.at_barrier = 0;
            for (unsigned k = 0; k < n; ++k) {
                const unsigned t = R.reverse ? n - 1 - k : k;
                if (R.fibers[t].st == AT_BARRIER) {
                    push_ready(t);
                }
            }
            continue;
        }
        unsigned at_warp = 0;
        for (const Fiber &f : R.fibers) {
            at_warp += f.st == AT_WARP;
        }
        char buf[256];
        snprintf(buf, sizeof buf,
                 "deadlock in block (%u,%u,%u): %u of %u live threads at __syncthreads, %u in warp collectives that "
                 "some lanes never reach",
                 blockIdx.x, blockIdx.y, blockIdx.z, R.at_barrier, R.live, at_warp);
        if (R.error.empty()) {
            R.error = buf;
        }
        return false;
    }
}

} // namespace

void syncthreads() {
    R.cur->st = AT_BARRIER;
    R.at_barrier++;
    switch_away();
}

const unsigned char *warp_exchange(const void *v, size_t n, unsigned mask, unsigned *part) {
    Fiber *f = R.cur;
    Warp &w = R.warps[f->warp];
    const unsigned buf = w.gen & 1;
    if (!(mask >> f->lane & 1u)) {
        fault("lane %u calls a warp collective with a mask (%08x) that leaves it out", f->lane, mask);
    }
    if (n) {
        memcpy(w.slot[buf][f->lane], v, n);
    }
    w.arrived |= 1u << f->lane;
    w.want |= mask;
    f->st = AT_WARP;
    try_complete(f->warp);
    switch_away();
    // Released: every lane of the collective wrote slot[buf]; the next collective writes the
    // other buffer, and the one after it cannot complete before this lane has read (it waits
    // for this lane to arrive at the next one).
    *part = w.part[buf];
    return &w.slot[buf][0][0];
}

unsigned lane() { return R.cur->lane; }

void fault(const char *fmt, ...) {
    if (!R.error.empty()) {
        return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char where[128];
    snprintf(where, sizeof where, " (block %u,%u,%u thread %u,%u,%u)", blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x,
             threadIdx.y, threadIdx.z);
    R.error = std::string(buf) + where;
}

std::string launch(dim3 grid, dim3 block, void (*body)(void *), void *ctx, bool reverse) {
    const unsigned n = block.x * block.y * block.z;
    if (n == 0 || n > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
        grid.z > 65535) {
        char buf[160];
        snprintf(buf, sizeof buf, "invalid launch: grid (%u,%u,%u) block (%u,%u,%u)", grid.x, grid.y, grid.z, block.x,
                 block.y, block.z);
        return buf;
    }
    R.body = body;
    R.ctx = ctx;
    R.error.clear();
    R.reverse = reverse;
    gridDim = grid;
    blockDim = block;
    const size_t nb = (size_t)grid.x * grid.y * grid.z;
    for (size_t k = 0; k < nb; ++k) {
        const size_t b = reverse ? nb - 1 - k : k;
        blockIdx = uint3{(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / ((size_t)grid.x * grid.y))};
        if (!run_block()) {
            break;
        }
    }
    return R.error;
}

bool shared_markers_hold(const void *p) {
    return +ucn_emu_shared_begin < +ucn_emu_shared_end && (const char *)p >= ucn_emu_shared_begin &&
           (const char *)p < ucn_emu_shared_end;
}

namespace {
struct F16Table {
    float v[65536];
    F16Table() {
        for (uint32_t i = 0; i < 65536; ++i) {
            _Float16 x;
            const uint16_t u = (uint16_t)i;
            memcpy(&x, &u, 2);
            v[i] = (float)x;
        }
    }
};
const F16Table f16_values;
} // namespace
extern const float *const f16_table = f16_values.v;

} // namespace ucn_emu
