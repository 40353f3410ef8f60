// The runner of the kernel tests (see harness.h): builds every registered case, runs it, and
// prints a line per failed case (every case with -v), a line per op and the closing line
//   kernels-cpu: N passed, N failed
// Usage: kernels-cpu [-v] [-j JOBS] [-k SUBSTRING] [--name VARIANT]
//   -v: a line per case; -j: cases run in JOBS processes at once; -k: only the cases whose
//   "op: name" contains SUBSTRING. KT_DUMP=N in the environment: each case also lists the N
//   elements farthest from the reference. Each case runs in its own process, so a crash or a ggml
//   assertion fails that case only.
#include "harness.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cfloat>
#include <map>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kt {

namespace {
const char *g_current = nullptr; // the case that runs, for the crash handler

// Poison: a signalling NaN per element size (a kernel never computes these bit patterns).
constexpr uint32_t POISON32 = 0x7fa5a5a5u;
constexpr uint16_t POISON16 = 0x7da5u; // an F16 sNaN; as BF16 it is a NaN too
constexpr unsigned char GUARD_BYTE = 0xa5;
constexpr size_t GUARD = 256;

bool is_poison(const char *p, size_t sz) {
    if (sz == 4) {
        uint32_t u;
        memcpy(&u, p, 4);
        return u == POISON32;
    }
    uint16_t u;
    memcpy(&u, p, 2);
    return u == POISON16;
}
void poison(char *p, size_t sz) {
    if (sz == 4) {
        memcpy(p, &POISON32, 4);
    } else {
        memcpy(p, &POISON16, 2);
    }
}
float to_float(ggml_type t, const char *p) {
    switch (t) {
    case GGML_TYPE_F16: return ggml_fp16_to_fp32(*(const ggml_fp16_t *)p);
    case GGML_TYPE_BF16: return ggml_bf16_to_fp32(*(const ggml_bf16_t *)p);
    case GGML_TYPE_I32: return (float)*(const int32_t *)p;
    default: return *(const float *)p;
    }
}
bool isinf_or_max(float f) { return std::isinf(f) || f == FLT_MAX || f == -FLT_MAX; }

// test-backend-ops' max_nmse_err for the node: 5e-4 for MUL_MAT and FLASH_ATTN_EXT, 0 for a
// copy between equal types (test_cpy), 1e-7 otherwise (the test_case default).
double threshold_for(const ggml_tensor *t) {
    switch (t->op) {
    case GGML_OP_MUL_MAT:
    case GGML_OP_FLASH_ATTN_EXT: return 5e-4;
    case GGML_OP_CPY:
    case GGML_OP_DUP:
    case GGML_OP_CONT: return t->src[0]->type == t->type ? 0.0 : 1e-7;
    default: return 1e-7;
    }
}

uint64_t fnv1a(const std::string &s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h = (h ^ c) * 1099511628211ull;
    }
    return h;
}

struct OpDef {
    const char *op;
    void (*add)(Cases &);
};
std::vector<OpDef> &ops() {
    static std::vector<OpDef> v;
    return v;
}

// Buffers the kernel sees: each ends at most 15 bytes before an inaccessible page (the data
// starts 16-byte aligned), so a read or write past the end faults; sources are read-only.
struct Guarded {
    char *map = nullptr;
    size_t map_len = 0;
    char *data = nullptr; // n bytes
    size_t n = 0;
    const char *what = "";
};
std::vector<Guarded> g_guarded; // of the running case, for the crash report
int g_result_fd = -1;           // where the case's process reports its result

char *guarded_alloc(size_t n, size_t before, const char *what) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t len = (before + n + 16 + page - 1) / page * page + page;
    char *m = (char *)mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        _exit(3);
    }
    mprotect(m + len - page, page, PROT_NONE);
    char *data = (char *)((uintptr_t)(m + len - page - n) & ~(uintptr_t)15);
    memset(m, GUARD_BYTE, len - page);
    g_guarded.push_back({m, len, data, n, what});
    return data;
}
void guarded_free_all() {
    for (const Guarded &g : g_guarded) {
        munmap(g.map, g.map_len);
    }
    g_guarded.clear();
}

// Limits of a case's process: CPU time (a kernel that never ends), and wall time as a backstop.
constexpr unsigned CASE_CPU_S = 60, CASE_WALL_S = 600;

void on_crash(int sig, siginfo_t *si, void *) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "\nkernels-cpu: signal %d (%s) in case: %s\n", sig, strsignal(sig), g_current ? g_current : "(none)");
    if (sig == SIGSEGV || sig == SIGBUS) {
        const char *a = (const char *)si->si_addr;
        for (const Guarded &g : g_guarded) {
            if (a >= g.map && a < g.map + g.map_len) {
                n += snprintf(buf + n, sizeof buf - n,
                              "kernels-cpu: the access at %p is %s %s (%zu bytes at %p)\n", (const void *)a,
                              a >= g.data + g.n ? "past the end of" : a < g.data ? "before the start of" : "a write into", g.what,
                              g.n, (const void *)g.data);
            }
        }
    }
    if (sig == SIGALRM || sig == SIGXCPU) {
        n += snprintf(buf + n, sizeof buf - n, "kernels-cpu: the case ran past its %s limit (%u s)\n", sig == SIGXCPU ? "CPU time" : "wall time",
                      sig == SIGXCPU ? CASE_CPU_S : CASE_WALL_S);
    }
    if (g_result_fd >= 0) { // the case's result: a header of zeros (failed), then these lines
        char r[1200];
        const int m = snprintf(r, sizeof r, "0 0 0 0 0 0\n%s", buf + 1);
        if (write(g_result_fd, r, m > 0 ? (size_t)m : 0) < 0) {
        }
    } else if (write(2, buf, n > 0 ? (size_t)n : 0) < 0) {
    }
    _exit(2);
}
} // namespace

std::vector<CaseDef> &registry() {
    static std::vector<CaseDef> v;
    return v;
}
Register::Register(const char *op, void (*add)(Cases &)) { ops().push_back({op, add}); }
void Cases::add(const std::string &name, std::function<void(Case &)> body) {
    registry().push_back({op_, name, std::move(body)});
}

std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

Launch rows(unsigned threads, size_t blocks_x, size_t nrows) {
    nrows = std::max<size_t>(nrows, 1);
    const size_t y = std::min(nrows, MAX_GRID_YZ), z = (nrows + y - 1) / y;
    return Launch{dim3((unsigned)blocks_x, (unsigned)y, (unsigned)z), dim3(threads, 1, 1)};
}
static size_t next_pow2(size_t n) {
    size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}
Launch tiles(size_t ne0, size_t nrows) {
    const size_t tx = std::min<size_t>(next_pow2(ne0), 256), ty = 256 / tx;
    Launch l = rows((unsigned)tx, (ne0 + tx - 1) / tx, (nrows + ty - 1) / ty);
    l.block = dim3((unsigned)tx, (unsigned)ty, 1);
    return l;
}
unsigned row_threads(size_t ne0) { return (unsigned)std::clamp<size_t>(next_pow2(ne0 / 8), 32, 1024); }

ucn_layout layout(const ggml_tensor *t) {
    ucn_layout l;
    for (int d = 0; d < 4; ++d) {
        l.ne[d] = (size_t)t->ne[d];
        l.nb[d] = t->nb[d];
    }
    return l;
}

Case::Case(const std::string &name, uint64_t seed) : rng(seed) {
    ggml_init_params ip = {512u << 20, nullptr, false};
    ctx = ggml_init(ip);
    (void)name;
}
Case::~Case() { ggml_free(ctx); }

float Case::uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
int64_t Case::below(int64_t n) { return (int64_t)(rng() % (uint64_t)n); }

void Case::fill(ggml_tensor *t, float lo, float hi) {
    const int64_t n = ggml_nelements(t);
    std::uniform_real_distribution<float> u(lo, hi);
    switch (t->type) {
    case GGML_TYPE_F32:
        for (int64_t i = 0; i < n; ++i) ((float *)t->data)[i] = u(rng);
        break;
    case GGML_TYPE_F16:
        for (int64_t i = 0; i < n; ++i) ((ggml_fp16_t *)t->data)[i] = ggml_fp32_to_fp16(u(rng));
        break;
    case GGML_TYPE_BF16:
        for (int64_t i = 0; i < n; ++i) ((ggml_bf16_t *)t->data)[i] = ggml_fp32_to_bf16(u(rng));
        break;
    case GGML_TYPE_I32:
        for (int64_t i = 0; i < n; ++i) ((int32_t *)t->data)[i] = (int32_t)std::floor(u(rng));
        break;
    case GGML_TYPE_I64:
        for (int64_t i = 0; i < n; ++i) ((int64_t *)t->data)[i] = (int64_t)std::floor(u(rng));
        break;
    default: {
        // Quantized: random rows, quantized by ggml (dense tensors only).
        std::vector<float> f((size_t)n);
        for (float &v : f) v = u(rng);
        ggml_quantize_chunk(t->type, f.data(), t->data, 0, n / t->ne[0], t->ne[0], nullptr);
    }
    }
}

ggml_tensor *Case::tensor(ggml_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, float lo, float hi) {
    ggml_tensor *t = ggml_new_tensor_4d(ctx, type, ne0, ne1, ne2, ne3);
    fill(t, lo, hi);
    return t;
}

void Case::fail(const std::string &msg) {
    ok = false;
    msgs.push_back(msg);
}

void Case::run_erased(ggml_tensor *out, const Launch &l, const Written &written, ucn_ptrs *p, void *call,
                      void (*body)(void *)) {
    ran = true;
    threshold = threshold_for(out);
    const ggml_type ty = out->type;
    const size_t esz = ggml_type_size(ty);
    if (ggml_is_quantized(ty) || (esz != 2 && esz != 4)) {
        fail("harness: output type " + std::string(ggml_type_name(ty)) + " is not compared");
        return;
    }
    ggml_tensor *base = out->view_src ? out->view_src : out;
    const size_t offs = (size_t)((char *)out->data - (char *)base->data), nbytes = ggml_nbytes(base);
    auto node_elems = [&](auto f) {
        for (int64_t i3 = 0; i3 < out->ne[3]; ++i3)
            for (int64_t i2 = 0; i2 < out->ne[2]; ++i2)
                for (int64_t i1 = 0; i1 < out->ne[1]; ++i1)
                    for (int64_t i0 = 0; i0 < out->ne[0]; ++i0) {
                        f(i0, i1, i2, i3, offs + i0 * out->nb[0] + i1 * out->nb[1] + i2 * out->nb[2] + i3 * out->nb[3]);
                    }
    };

    // Poison what the node writes, in the buffer both sides start from.
    std::vector<bool> covered(nbytes, false);
    node_elems([&](int64_t i0, int64_t i1, int64_t i2, int64_t i3, size_t off) {
        if (!written || written(i0, i1, i2, i3)) {
            poison((char *)base->data + off, esz);
        }
        std::fill(covered.begin() + off, covered.begin() + off + esz, true);
    });
    const std::vector<char> initial((char *)base->data, (char *)base->data + nbytes);

    // The reference.
    ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, out);
    if (ggml_graph_compute_with_ctx(ctx, gf, 1) != GGML_STATUS_SUCCESS) {
        fail("harness: ggml-cpu failed to compute the node");
        return;
    }
    const char *ref = (const char *)out->data - offs;

    // Sources the kernel reads (not the output's own buffer, which CPY names as src 1): copies
    // in read-only guarded buffers, at the same offsets from their base tensor (same alignment).
    std::vector<std::pair<const ggml_tensor *, const char *>> copies; // base tensor -> its copy
    std::vector<int> aliases;
    for (int i = 0; i < GGML_MAX_SRC && i < UCN_MAX_SRC; ++i) {
        const ggml_tensor *s = sources_ ? (i < (int)sources_->size() ? (*sources_)[i] : nullptr) : out->src[i];
        p->src[i] = nullptr;
        if (!s) {
            continue;
        }
        const ggml_tensor *sb = s->view_src ? s->view_src : s;
        if (sb == base) {
            aliases.push_back(i); // points into the output buffer, as on the GPU (set per run below)
            continue;
        }
        const char *copy = nullptr;
        for (const auto &c : copies) {
            if (c.first == sb) copy = c.second;
        }
        if (!copy) {
            static const char *names[] = {"src 0", "src 1", "src 2", "src 3", "src 4"};
            const size_t sz = ggml_nbytes(sb);
            char *d = guarded_alloc(sz, 0, names[i]);
            memcpy(d, sb->data, sz);
            const Guarded &g = g_guarded.back();
            mprotect(g.map, g.map_len - (size_t)sysconf(_SC_PAGESIZE), PROT_READ);
            copies.push_back({sb, d});
            copy = d;
        }
        p->src[i] = copy + ((const char *)s->data - (const char *)sb->data);
    }
    std::vector<char> runs[2];
    for (int order = 0; order < 2; ++order) {
        const char *oname = order ? "reverse order" : "forward order";
        // The output: GUARD bytes before it, up to 15 after it, then an inaccessible page.
        char *data = guarded_alloc(nbytes, GUARD, "the output");
        const Guarded &g = g_guarded.back();
        memcpy(data, initial.data(), nbytes);
        p->dst = data + offs;
        for (int i : aliases) {
            const ggml_tensor *s = sources_ ? (*sources_)[i] : out->src[i];
            p->src[i] = data + ((const char *)s->data - (const char *)base->data);
        }
        const std::string err = ucn_emu::launch(l.grid, l.block, body, call, order == 1);
        if (!err.empty()) {
            fail(fmt("%s: %s", oname, err.c_str()));
            return;
        }
        // Bytes outside the output's elements (guards, gaps of a view) keep their value.
        const char *lo = data - GUARD, *hi = g.map + g.map_len - (size_t)sysconf(_SC_PAGESIZE);
        size_t stray = 0;
        long long first_stray = 0;
        for (const char *q = lo; q < hi; ++q) {
            const bool in = q >= data && q < data + nbytes;
            const char want = in ? initial[(size_t)(q - data)] : (char)GUARD_BYTE;
            if ((!in || !covered[(size_t)(q - data)]) && *q != want) {
                if (!stray++) first_stray = (long long)(q - data);
            }
        }
        if (stray) {
            fail(fmt("%s: %zu bytes written outside the output's elements (first at byte %lld of the output buffer)", oname,
                     stray, first_stray));
        }
        runs[order].assign(lo, hi);
        const char *m = data;
        const long dump = getenv("KT_DUMP") ? atol(getenv("KT_DUMP")) : 0;
        std::vector<std::pair<double, std::string>> worst;
        size_t unwritten = 0, n = 0, n_nan = 0, n_inf = 0;
        double num = 0.0, den = 0.0;
        std::string first_bad;
        node_elems([&](int64_t i0, int64_t i1, int64_t i2, int64_t i3, size_t off) {
            n++;
            const bool w = !written || written(i0, i1, i2, i3);
            if (w && is_poison(ref + off, esz)) {
                if (first_bad.empty()) first_bad = fmt("harness: the reference left [%lld,%lld,%lld,%lld] unwritten", (long long)i0, (long long)i1, (long long)i2, (long long)i3);
            }
            if (w && is_poison(m + off, esz)) {
                if (!unwritten++) first_bad = fmt("[%lld,%lld,%lld,%lld] not written", (long long)i0, (long long)i1, (long long)i2, (long long)i3);
                return;
            }
            if (memcmp(ref + off, m + off, esz) != 0) {
                exact = false;
            }
            const float a = to_float(ty, ref + off), b = to_float(ty, m + off);
            if (std::isnan(a) || std::isnan(b)) {
                if (!n_nan++ && first_bad.empty()) first_bad = fmt("NaN at [%lld,%lld,%lld,%lld] (ref %g, kernel %g)", (long long)i0, (long long)i1, (long long)i2, (long long)i3, a, b);
                return;
            }
            if ((isinf_or_max(a) || isinf_or_max(b)) && !(isinf_or_max(a) && isinf_or_max(b) && std::signbit(a) == std::signbit(b))) {
                if (!n_inf++ && first_bad.empty()) first_bad = fmt("inf mismatch at [%lld,%lld,%lld,%lld] (ref %g, kernel %g)", (long long)i0, (long long)i1, (long long)i2, (long long)i3, a, b);
                return;
            }
            if (isinf_or_max(a)) {
                return;
            }
            const double d = (double)a - (double)b;
            num += d * d;
            den += (double)a * a;
            if (dump && order == 0) {
                worst.push_back({std::fabs(d), fmt("[%lld,%lld,%lld,%lld] ref %.9g kernel %.9g diff %.3g", (long long)i0, (long long)i1,
                                                  (long long)i2, (long long)i3, a, b, d)});
            }
        });
        if (dump && order == 0) { // KT_DUMP=N: the N elements farthest from the reference
            std::sort(worst.begin(), worst.end(), [](const auto &x, const auto &y) { return x.first > y.first; });
            for (size_t i = 0; i < worst.size() && i < (size_t)dump; ++i) {
                msgs.push_back("dump " + worst[i].second);
            }
        }
        n_elems = n;
        const double e = den > 0.0 ? num / den : (num > 0.0 ? INFINITY : 0.0);
        nmse = std::max(nmse, e);
        if (unwritten) fail(fmt("%s: %zu of %zu elements not written: %s", oname, unwritten, n, first_bad.c_str()));
        if (n_nan) fail(fmt("%s: %zu NaN: %s", oname, n_nan, first_bad.c_str()));
        if (n_inf) fail(fmt("%s: %zu inf mismatches: %s", oname, n_inf, first_bad.c_str()));
        if (!unwritten && !n_nan && !n_inf && !first_bad.empty()) fail(first_bad);
        if (e > threshold) fail(fmt("%s: NMSE %.3g > %.3g", oname, e, threshold));
        if (!ok) {
            return;
        }
    }
    if (runs[0] != runs[1]) {
        size_t i = 0;
        while (runs[0][i] == runs[1][i]) ++i;
        fail(fmt("forward and reverse thread order differ (first at byte %lld of the output buffer): a race or a missing barrier",
                 (long long)i - (long long)GUARD));
    }
    guarded_free_all();
}

} // namespace kt

// A kernel with a __shared__ variable in a template (a COMDAT section) and one in a static
// function, both in kernels.o (kernels.cpp): their addresses must lie in the poisoned region.
extern "C" const void *ucn_emu_probe_shared(int which);

namespace {

// One case's outcome, as a child process reports it to the runner.
struct Result {
    bool ok = false, exact = false;
    double nmse = 0.0, threshold = 0.0, seconds = 0.0;
    size_t n = 0;
    std::string msgs;
};


// Runs case d in this (child) process and writes its Result to fd.
[[noreturn]] void child(const kt::CaseDef &d, const std::string &full, int fd) {
    struct sigaction sa = {};
    sa.sa_sigaction = kt::on_crash;
    sa.sa_flags = SA_SIGINFO;
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM, SIGXCPU}) {
        sigaction(sig, &sa, nullptr);
    }
    const rlimit cpu = {kt::CASE_CPU_S, kt::CASE_CPU_S + 5};
    setrlimit(RLIMIT_CPU, &cpu);
    alarm(kt::CASE_WALL_S);
    kt::g_current = full.c_str();
    kt::g_result_fd = fd;
    timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    kt::Case c(full, kt::fnv1a(full));
    d.body(c);
    if (!c.ran && c.ok) {
        c.fail("harness: the case ran no kernel");
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    const double secs = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec); // CPU time
    std::string out = kt::fmt("%d %d %.17g %.17g %.17g %zu\n", (int)c.ok, (int)c.exact, c.nmse, c.threshold, secs, c.n_elems);
    for (const std::string &m : c.msgs) {
        out += m.substr(0, 1000) + "\n";
    }
    out.resize(std::min<size_t>(out.size(), 60000)); // below a pipe's buffer: the write never blocks
    if (write(fd, out.data(), out.size()) < 0) {
    }
    _exit(0);
}

Result parse(const std::string &s, int status) {
    Result r;
    int ok = 0, exact = 0;
    const size_t nl = s.find('\n');
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (nl != std::string::npos &&
        sscanf(s.c_str(), "%d %d %lg %lg %lg %zu", &ok, &exact, &r.nmse, &r.threshold, &r.seconds, &r.n) == 6) {
        r.ok = ok && clean;
        r.exact = exact;
        r.msgs = s.substr(nl + 1);
    }
    if (!clean && r.msgs.empty()) {
        r.msgs = WIFSIGNALED(status) ? kt::fmt("the case's process died: signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)))
                                     : kt::fmt("the case's process ended with status %d\n", WEXITSTATUS(status));
    }
    return r;
}

} // namespace

int main(int argc, char **argv) {
    bool verbose = false;
    std::string filter, name; // name: the build variant, in the closing line
    int jobs = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-v") {
            verbose = true;
        } else if (a == "-k" && i + 1 < argc) {
            filter = argv[++i];
        } else if (a == "-j" && i + 1 < argc) {
            jobs = std::max(1, atoi(argv[++i]));
        } else if (a == "--name" && i + 1 < argc) {
            name = std::string(" ") + argv[++i];
        } else {
            fprintf(stderr, "usage: %s [-v] [-j JOBS] [-k SUBSTRING] [--name VARIANT]\n", argv[0]);
            return 2;
        }
    }
    if (!ucn_emu::shared_markers_hold(ucn_emu_probe_shared(0)) || !ucn_emu::shared_markers_hold(ucn_emu_probe_shared(1))) {
        fprintf(stderr, "kernels-cpu: the link did not put kernels.o's static storage between the shared-memory markers\n");
        return 2;
    }
    ggml_cpu_init();

    auto &ops = kt::ops();
    std::stable_sort(ops.begin(), ops.end(), [](const kt::OpDef &a, const kt::OpDef &b) { return strcmp(a.op, b.op) < 0; });
    for (const kt::OpDef &o : ops) {
        kt::Cases c(o.op);
        o.add(c);
    }
    std::vector<const kt::CaseDef *> todo;
    std::vector<std::string> names;
    for (const kt::CaseDef &d : kt::registry()) {
        const std::string full = d.op + ": " + d.name;
        if (filter.empty() || full.find(filter) != std::string::npos) {
            todo.push_back(&d);
            names.push_back(full);
        }
    }

    // Each case in its own process (a crash or a ggml assertion fails that case only), up to
    // `jobs` at a time; results are printed in case order.
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Result> results(todo.size());
    std::vector<bool> done(todo.size(), false);
    std::map<pid_t, std::pair<size_t, int>> running; // pid -> (case, read end)
    size_t next = 0, printed = 0;
    int passed = 0, failed = 0;
    struct Stat {
        int passed = 0, failed = 0, exact = 0;
        double max_nmse = 0.0, threshold = 0.0, seconds = 0.0;
    };
    std::map<std::string, Stat> stats;
    std::vector<std::string> order;
    fflush(stdout);
    while (printed < todo.size()) {
        while (next < todo.size() && running.size() < (size_t)jobs) {
            int fds[2];
            if (pipe(fds) != 0) {
                perror("pipe");
                return 2;
            }
            const pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 2;
            }
            if (pid == 0) {
                close(fds[0]);
                child(*todo[next], names[next], fds[1]);
            }
            close(fds[1]);
            running[pid] = {next++, fds[0]};
        }
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            perror("waitpid");
            return 2;
        }
        const auto it = running.find(pid);
        if (it == running.end()) {
            continue;
        }
        const auto [i, fd] = it->second;
        running.erase(it);
        std::string buf;
        char chunk[4096];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) > 0) {
            buf.append(chunk, (size_t)n);
        }
        close(fd);
        results[i] = parse(buf, status);
        done[i] = true;
        for (; printed < todo.size() && done[printed]; ++printed) {
            const kt::CaseDef &d = *todo[printed];
            const Result &r = results[printed];
            if (!stats.count(d.op)) {
                order.push_back(d.op);
            }
            Stat &s = stats[d.op];
            s.seconds += r.seconds;
            s.threshold = std::max(s.threshold, r.threshold);
            if (r.ok) {
                s.passed++;
                passed++;
                s.exact += r.exact;
                s.max_nmse = std::max(s.max_nmse, r.nmse);
            } else {
                s.failed++;
                failed++;
            }
            if (verbose || !r.ok) {
                printf("%-4s %-78s n=%-7zu nmse=%-9.3g (max %.0e)%s cpu %.2fs\n", r.ok ? "ok" : "FAIL", names[printed].c_str(), r.n,
                       r.nmse, r.threshold, r.ok && r.exact ? " exact" : "", r.seconds);
                size_t p = 0, q;
                while ((q = r.msgs.find('\n', p)) != std::string::npos) {
                    printf("       %s\n", r.msgs.substr(p, q - p).c_str());
                    p = q + 1;
                }
            }
            fflush(stdout);
        }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%-15s %6s %6s %11s %9s %12s %8s\n", "op", "passed", "failed", "max nmse", "threshold", "bit-exact", "cpu");
    for (const std::string &op : order) {
        const Stat &s = stats[op];
        printf("%-15s %6d %6d %11.3g %9.0e %5d of %-4d %7.2fs\n", op.c_str(), s.passed, s.failed, s.max_nmse, s.threshold, s.exact,
               s.passed, s.seconds);
    }
    printf("(max nmse over passing cases; bit-exact: passing cases equal to ggml-cpu to the bit; cpu: CPU time of the cases; %.1f s wall, %d job%s)\n", wall,
           jobs, jobs == 1 ? "" : "s");
    printf("kernels-cpu%s: %d passed, %d failed\n", name.c_str(), passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
