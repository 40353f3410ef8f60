// The C ABI of libunicorn-xrt.so: the part of XRT's C++ API (>= 2.17, with xrt::hw_context)
// that Unicorn's NPU engine uses, behind plain C functions. The plugin opens this library at
// run time (xrt-sys), so it loads on machines without XRT; a C++ exception never crosses this
// boundary: every call that can fail returns 0 on success or -1, with the message in err.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCN_XRT_ABI 1

typedef struct ucn_xrt_device ucn_xrt_device;
typedef struct ucn_xrt_kernel ucn_xrt_kernel; // a registered xclbin, its hw_context, one kernel
typedef struct ucn_xrt_bo ucn_xrt_bo;

// Buffer-object flags (XRT's xrt::bo::flags).
#define UCN_XRT_BO_NORMAL 0u
#define UCN_XRT_BO_CACHEABLE 1u // instruction sequences (XCL_BO_FLAGS_CACHEABLE)
#define UCN_XRT_BO_HOST_ONLY 2u // data the NPU reads and writes in host memory

// One command: the MLIR-AIE kernel signature (opcode, instruction BO, its length in 32-bit
// words, then the data BOs in the runtime sequence's argument order).
typedef struct ucn_xrt_cmd {
    uint32_t opcode; // 3: transaction + instruction sequence
    ucn_xrt_bo *instr;
    uint32_t instr_words;
    ucn_xrt_bo *const *bos;
    uint32_t n_bos;
} ucn_xrt_cmd;

int ucn_xrt_abi(void);
// The XRT version the shim was compiled against ("2.25.00").
const char *ucn_xrt_build_version(void);

int ucn_xrt_device_open(unsigned index, ucn_xrt_device **out, char *err, size_t err_len);
void ucn_xrt_device_close(ucn_xrt_device *dev);
// The device's name as XRT reports it (e.g. "RyzenAI-npu1").
int ucn_xrt_device_name(ucn_xrt_device *dev, char *buf, size_t len, char *err, size_t err_len);

// Registers the xclbin with the device, creates a hardware context for it and opens the
// kernel `name` ("MLIR_AIE" for mlir-aie designs). The context stays until kernel_close.
int ucn_xrt_kernel_open(ucn_xrt_device *dev, const char *xclbin_path, const char *name, ucn_xrt_kernel **out,
                        char *err, size_t err_len);
void ucn_xrt_kernel_close(ucn_xrt_kernel *k);

// A buffer object of `size` bytes in the memory group of kernel argument `arg`.
int ucn_xrt_bo_alloc(ucn_xrt_kernel *k, size_t size, uint32_t flags, int arg, ucn_xrt_bo **out, char *err,
                     size_t err_len);
// A buffer object over existing host memory (user pointer, page aligned), same group rule.
int ucn_xrt_bo_import(ucn_xrt_kernel *k, void *ptr, size_t size, int arg, ucn_xrt_bo **out, char *err,
                      size_t err_len);
void *ucn_xrt_bo_map(ucn_xrt_bo *bo);
size_t ucn_xrt_bo_size(ucn_xrt_bo *bo);
// to_device 1: host writes become visible to the NPU; 0: NPU writes become visible to the host.
int ucn_xrt_bo_sync(ucn_xrt_bo *bo, int to_device, size_t size, size_t offset, char *err, size_t err_len);
void ucn_xrt_bo_free(ucn_xrt_bo *bo);

// Runs n commands in order and waits at most timeout_ms (0: no limit). One command is one
// xrt::run; several go into one xrt::runlist (submitted together, one wait). *state receives
// the final ert_cmd_state (4: completed); a timeout returns -1 with state 0 and aborts.
int ucn_xrt_run(ucn_xrt_kernel *k, const ucn_xrt_cmd *cmds, size_t n, uint32_t timeout_ms, int *state, char *err,
                size_t err_len);

// The amdxdna power mode (what `xrt-smi configure --pmode` sets): 0 default, 1 low, 2 medium,
// 3 high, 4 turbo, on the accel node (e.g. "/dev/accel/accel0").
int ucn_xrt_set_power_mode(const char *accel_node, int mode, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
