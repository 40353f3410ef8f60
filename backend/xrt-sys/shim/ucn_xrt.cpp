// libunicorn-xrt.so: ucn_xrt.h over XRT's C++ API. Every entry point catches every exception
// and returns -1 with its message; nothing else happens here (no policy, no retries).
#include "ucn_xrt.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <xrt/detail/version-slim.h>
#include <xrt/experimental/xrt_kernel.h> // xrt::runlist
#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_hw_context.h>
#include <xrt/xrt_kernel.h>
#include <xrt/experimental/xrt_xclbin.h>

#if __has_include(<drm/amdxdna_accel.h>)
#include <drm/amdxdna_accel.h>
#define UCN_HAVE_AMDXDNA 1
#endif

#if XRT_VERSION_CODE < XRT_VERSION(2, 17)
#error "XRT >= 2.17 is needed (xrt::hw_context, xrt::runlist)"
#endif

struct ucn_xrt_device {
    xrt::device dev;
};
struct ucn_xrt_kernel {
    xrt::device dev;
    xrt::xclbin xclbin;
    xrt::hw_context ctx;
    xrt::kernel kernel;
};
struct ucn_xrt_bo {
    xrt::bo bo;
};

static int fail(char *err, size_t n, const std::string &msg) {
    if (err && n) std::snprintf(err, n, "%s", msg.c_str());
    return -1;
}

// Runs f; an exception becomes -1 and "what: message" in err.
template <typename F> static int guarded(char *err, size_t err_len, const std::string &what, F &&f) {
    try {
        f();
        return 0;
    } catch (const std::exception &e) {
        return fail(err, err_len, what + ": " + e.what());
    } catch (...) {
        return fail(err, err_len, what + ": unknown exception");
    }
}

extern "C" {

int ucn_xrt_abi(void) { return UCN_XRT_ABI; }
const char *ucn_xrt_build_version(void) { return xrt_build_version; }

int ucn_xrt_device_open(unsigned index, ucn_xrt_device **out, char *err, size_t err_len) {
    return guarded(err, err_len, "xrt::device(" + std::to_string(index) + ")",
                   [&] { *out = new ucn_xrt_device{xrt::device(index)}; });
}

void ucn_xrt_device_close(ucn_xrt_device *dev) {
    try { delete dev; } catch (...) {}
}

int ucn_xrt_device_name(ucn_xrt_device *dev, char *buf, size_t len, char *err, size_t err_len) {
    return guarded(err, err_len, "device name", [&] {
        const std::string name = dev->dev.get_info<xrt::info::device::name>();
        std::snprintf(buf, len, "%s", name.c_str());
    });
}

int ucn_xrt_kernel_open(ucn_xrt_device *dev, const char *xclbin_path, const char *name, ucn_xrt_kernel **out,
                        char *err, size_t err_len) {
    return guarded(err, err_len, std::string("loading ") + xclbin_path, [&] {
        xrt::xclbin xclbin(std::string{xclbin_path});
        dev->dev.register_xclbin(xclbin);
        xrt::hw_context ctx(dev->dev, xclbin.get_uuid());
        xrt::kernel kernel(ctx, name);
        *out = new ucn_xrt_kernel{dev->dev, xclbin, ctx, kernel};
    });
}

void ucn_xrt_kernel_close(ucn_xrt_kernel *k) {
    try { delete k; } catch (...) {}
}

static xrt::bo::flags bo_flags(uint32_t f) {
    if (f & UCN_XRT_BO_CACHEABLE) return xrt::bo::flags::cacheable;
    if (f & UCN_XRT_BO_HOST_ONLY) return xrt::bo::flags::host_only;
    return xrt::bo::flags::normal;
}

int ucn_xrt_bo_alloc(ucn_xrt_kernel *k, size_t size, uint32_t flags, int arg, ucn_xrt_bo **out, char *err,
                     size_t err_len) {
    return guarded(err, err_len, "xrt::bo(" + std::to_string(size) + " bytes)", [&] {
        *out = new ucn_xrt_bo{xrt::bo(k->ctx, size, bo_flags(flags), k->kernel.group_id(arg))};
    });
}

int ucn_xrt_bo_import(ucn_xrt_kernel *k, void *ptr, size_t size, int arg, ucn_xrt_bo **out, char *err,
                      size_t err_len) {
    return guarded(err, err_len, "xrt::bo(user pointer, " + std::to_string(size) + " bytes)", [&] {
        *out = new ucn_xrt_bo{xrt::bo(k->ctx, ptr, size, xrt::bo::flags::host_only, k->kernel.group_id(arg))};
    });
}

void *ucn_xrt_bo_map(ucn_xrt_bo *bo) {
    try { return bo->bo.map(); } catch (...) { return nullptr; }
}

size_t ucn_xrt_bo_size(ucn_xrt_bo *bo) {
    try { return bo->bo.size(); } catch (...) { return 0; }
}

int ucn_xrt_bo_sync(ucn_xrt_bo *bo, int to_device, size_t size, size_t offset, char *err, size_t err_len) {
    return guarded(err, err_len, "xrt::bo::sync", [&] {
        bo->bo.sync(to_device ? XCL_BO_SYNC_BO_TO_DEVICE : XCL_BO_SYNC_BO_FROM_DEVICE, size, offset);
    });
}

void ucn_xrt_bo_free(ucn_xrt_bo *bo) {
    try { delete bo; } catch (...) {}
}

static xrt::run make_run(ucn_xrt_kernel *k, const ucn_xrt_cmd &c) {
    xrt::run run(k->kernel);
    run.set_arg(0, c.opcode);
    run.set_arg(1, c.instr->bo);
    run.set_arg(2, c.instr_words);
    for (uint32_t i = 0; i < c.n_bos; ++i) run.set_arg(3 + (int)i, c.bos[i]->bo);
    return run;
}

int ucn_xrt_run(ucn_xrt_kernel *k, const ucn_xrt_cmd *cmds, size_t n, uint32_t timeout_ms, int *state, char *err,
                size_t err_len) {
    *state = 0;
    try {
        const auto timeout = std::chrono::milliseconds{timeout_ms};
        if (n == 1) {
            xrt::run run = make_run(k, cmds[0]);
            run.start();
            if (run.wait2(timeout) == std::cv_status::timeout) {
                run.abort();
                *state = (int)run.state();
                return fail(err, err_len, "NPU command timed out after " + std::to_string(timeout_ms) + " ms");
            }
            *state = (int)run.state();
            return 0;
        }
        xrt::runlist list(k->ctx);
        for (size_t i = 0; i < n; ++i) list.add(make_run(k, cmds[i]));
        list.execute();
        if (list.wait(timeout) == std::cv_status::timeout) {
            return fail(err, err_len, "NPU run list timed out after " + std::to_string(timeout_ms) + " ms");
        }
        *state = 4; // ERT_CMD_STATE_COMPLETED: wait() throws on any other end state
        return 0;
    } catch (const xrt::run::command_error &e) {
        *state = (int)e.get_command_state();
        return fail(err, err_len, std::string("NPU command failed: ") + e.what());
    } catch (const xrt::runlist::command_error &e) {
        *state = (int)e.get_command_state();
        return fail(err, err_len, std::string("NPU run list failed: ") + e.what());
    } catch (const std::exception &e) {
        return fail(err, err_len, std::string("NPU run: ") + e.what());
    } catch (...) {
        return fail(err, err_len, "NPU run: unknown exception");
    }
}

int ucn_xrt_set_power_mode(const char *accel_node, int mode, char *err, size_t err_len) {
#ifdef UCN_HAVE_AMDXDNA
    const int fd = open(accel_node, O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail(err, err_len, std::string("open ") + accel_node + ": " + std::strerror(errno));
    amdxdna_drm_set_power_mode pm{};
    pm.power_mode = (uint8_t)mode;
    amdxdna_drm_set_state st{};
    st.param = DRM_AMDXDNA_SET_POWER_MODE;
    st.buffer_size = sizeof pm;
    st.buffer = (uint64_t)(uintptr_t)&pm;
    const int rc = ioctl(fd, DRM_IOCTL_AMDXDNA_SET_STATE, &st);
    const int e = errno;
    close(fd);
    if (rc != 0) return fail(err, err_len, std::string("amdxdna SET_STATE power mode: ") + std::strerror(e));
    return 0;
#else
    (void)accel_node;
    (void)mode;
    return fail(err, err_len, "built without <drm/amdxdna_accel.h>: use xrt-smi configure --pmode");
#endif
}
}
