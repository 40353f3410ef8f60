// libamdhip64 for NVIDIA GPUs: the HIP functions hip-sys loads (backend/hip-sys/src/lib.rs),
// taking AMD's ABI values (hip_abi.h) and implemented on the CUDA driver API (libcuda.so.1,
// opened at hipInit), with the semantics HIP's own NVIDIA platform gives them
// (ROCm/hipother hipnv/include/hip/nvidia_detail/nvidia_hip_runtime_api.h, 75ef32d): each HIP
// call is the CUDA call of the same meaning, flags mapped to CUDA's, CUresult mapped to
// hipError_t as its hipCUResultTohipError does. What that proves and what it does not:
// docs/hip-shim.md.
//
// Differences from hipnv, each on purpose:
// - hipnv's hipGetDeviceProperties leaves gcnArchName empty; here it is "sm_XY", so Unicorn
//   picks the sm_90 code object (unicorn-cuda.fatbin) by the same rule as gfx1103's.
// - hipHostMalloc and hipHostRegister always map into the device's address space
//   (CU_MEMHOSTALLOC_DEVICEMAP / CU_MEMHOSTREGISTER_DEVICEMAP), as the CUDA runtime does
//   implicitly under unified addressing and as AMD maps every host allocation.
//
// For tests (read from the environment):
//   HIPSHIM_LOG=FILE      one line per memory, stream, event, module and graph call (not per
//                         launch): its name, arguments and flags as received, and its result
//   HIPSHIM_FAIL=NAME[:N] the first N (default: every) calls of hip function NAME return
//                         hipErrorInvalidValue, without calling CUDA (read at each call);
//                         NAME@K: only its K-th call
//   HIPSHIM_INTEGRATED=1  report the GPU as integrated (hipDeviceProp_t.integrated), so the
//                         caller takes its APU path (host memory the GPU reads in place)
//   HIPSHIM_FAKE=ARCH:KIND,...  no CUDA at all: devices as listed (KIND integrated or
//                         discrete, e.g. gfx1100:discrete,gfx1103:integrated) whose memory is
//                         host memory; modules, launches and graphs return hipErrorNotSupported.
//                         For host-side tests on machines without a GPU.
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hip_abi.h"

#define EXPORT __attribute__((visibility("default")))
#define STR_(x) #x
#define STR(x) STR_(x)

typedef void* hipStream_t;
typedef void* hipModule_t;
typedef void* hipFunction_t;
typedef void* hipEvent_t;
typedef void* hipGraph_t;
typedef void* hipGraphNode_t;
typedef void* hipGraphExec_t;

// ---- the CUDA driver, opened at run time ------------------------------------------------
// Each entry point is resolved by the name cuda.h maps it to (cuMemAlloc -> cuMemAlloc_v2).
#define CU_FUNCS(X)                                                                          \
  X(cuInit) X(cuDriverGetVersion) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName)     \
  X(cuDeviceGetAttribute) X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuCtxSetCurrent) \
  X(cuMemGetInfo) X(cuMemAlloc) X(cuMemFree) X(cuMemHostAlloc) X(cuMemFreeHost)              \
  X(cuMemHostRegister) X(cuMemHostUnregister) X(cuMemHostGetDevicePointer)                   \
  X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync) X(cuMemsetD8Async)          \
  X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuStreamWaitEvent)           \
  X(cuEventCreate) X(cuEventRecord) X(cuEventSynchronize) X(cuEventDestroy)                  \
  X(cuEventElapsedTime) X(cuModuleLoadData) X(cuModuleUnload) X(cuModuleGetFunction)         \
  X(cuLaunchKernel) X(cuGraphCreate) X(cuGraphAddKernelNode) X(cuGraphInstantiateWithFlags)  \
  X(cuGraphExecKernelNodeSetParams) X(cuGraphLaunch) X(cuGraphExecDestroy) X(cuGraphDestroy)
#define DECLARE(f) static __typeof__(f)* p_##f;
CU_FUNCS(DECLARE)

enum { MAX_DEVICES = 16 };
static struct {
  pthread_once_t once;
  hipError_t init_status;
  char init_error[512];
  int fake;  // HIPSHIM_FAKE: no CUDA
  int count;
  CUdevice dev[MAX_DEVICES];
  CUcontext ctx[MAX_DEVICES];
  char fake_arch[MAX_DEVICES][32];
  int fake_integrated[MAX_DEVICES];
  pthread_mutex_t lock;  // log file, fault counters, fake bookkeeping
} g = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER};
static __thread int t_device;
static __thread hipError_t t_last_error;
// The context this thread last made current through the shim: a call on the same device does
// not set it again (HIP's current device is per thread, as a CUDA current context is).
static __thread CUcontext t_ctx;

// ---- recording and fault injection ------------------------------------------------------
static void record(const char* fmt, ...) {
  const char* path = getenv("HIPSHIM_LOG");
  if (!path || !*path) return;
  pthread_mutex_lock(&g.lock);
  FILE* f = fopen(path, "a");
  if (f) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
  }
  pthread_mutex_unlock(&g.lock);
}

static int fail_counts[64];
static const char* fail_names[64];
// Whether HIPSHIM_FAIL asks `name` to fail now (counts the call).
static int injected(const char* name) {
  const char* spec = getenv("HIPSHIM_FAIL");
  if (!spec || !*spec) return 0;
  size_t n = strlen(name);
  if (strncmp(spec, name, n) != 0 || (spec[n] != 0 && spec[n] != ':' && spec[n] != '@')) return 0;
  long limit = spec[n] == ':' ? strtol(spec + n + 1, NULL, 10) : -1;
  long only = spec[n] == '@' ? strtol(spec + n + 1, NULL, 10) : 0;
  int fail = 0;
  pthread_mutex_lock(&g.lock);
  int i = 0;
  while (i < 64 && fail_names[i] && strcmp(fail_names[i], name) != 0) i++;
  if (i < 64) {
    fail_names[i] = name;  // a string literal of this file
    int call = ++fail_counts[i];  // calls seen, this one included
    fail = only > 0 ? call == only : (limit < 0 || call <= limit);
  }
  pthread_mutex_unlock(&g.lock);
  return fail;
}

static hipError_t ret(hipError_t e) {
  if (e != hipSuccess) t_last_error = e;
  return e;
}

// hipCUResultTohipError (hipnv), for the codes the CUDA calls used here return.
static hipError_t from_cu(CUresult r) {
  switch (r) {
    case CUDA_SUCCESS: return hipSuccess;
    case CUDA_ERROR_OUT_OF_MEMORY: return hipErrorOutOfMemory;
    case CUDA_ERROR_INVALID_VALUE: return hipErrorInvalidValue;
    case CUDA_ERROR_INVALID_DEVICE: return hipErrorInvalidDevice;
    case CUDA_ERROR_DEINITIALIZED: return hipErrorDeinitialized;
    case CUDA_ERROR_NO_DEVICE: return hipErrorNoDevice;
    case CUDA_ERROR_INVALID_CONTEXT: return hipErrorInvalidContext;
    case CUDA_ERROR_NOT_INITIALIZED: return hipErrorNotInitialized;
    case CUDA_ERROR_INVALID_HANDLE: return hipErrorInvalidHandle;
    case CUDA_ERROR_MAP_FAILED: return hipErrorMapFailed;
    case CUDA_ERROR_INVALID_IMAGE: return hipErrorInvalidImage;
    case CUDA_ERROR_NO_BINARY_FOR_GPU: return hipErrorNoBinaryForGpu;
    case CUDA_ERROR_INVALID_PTX: return hipErrorInvalidKernelFile;
    case CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND: return hipErrorSharedObjectSymbolNotFound;
    case CUDA_ERROR_OPERATING_SYSTEM: return hipErrorOperatingSystem;
    case CUDA_ERROR_ILLEGAL_STATE: return hipErrorIllegalState;
    case CUDA_ERROR_NOT_FOUND: return hipErrorNotFound;
    case CUDA_ERROR_NOT_READY: return hipErrorNotReady;
    case CUDA_ERROR_ILLEGAL_ADDRESS: return hipErrorIllegalAddress;
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return hipErrorLaunchOutOfResources;
    case CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED: return hipErrorHostMemoryAlreadyRegistered;
    case CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED: return hipErrorHostMemoryNotRegistered;
    case CUDA_ERROR_LAUNCH_FAILED: return hipErrorLaunchFailure;
    case CUDA_ERROR_NOT_SUPPORTED: return hipErrorNotSupported;
    default: return hipErrorUnknown;
  }
}

// ---- initialisation ---------------------------------------------------------------------
static void parse_fake(const char* spec) {
  g.fake = 1;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", spec);
  char* save = NULL;
  for (char* item = strtok_r(buf, ",", &save); item && g.count < MAX_DEVICES;
       item = strtok_r(NULL, ",", &save)) {
    char* kind = strchr(item, ':');
    if (kind) *kind++ = 0;
    snprintf(g.fake_arch[g.count], sizeof g.fake_arch[0], "%s", item);
    g.fake_integrated[g.count] = kind && strcmp(kind, "integrated") == 0;
    g.count++;
  }
}

static void init_once(void) {
  const char* fake = getenv("HIPSHIM_FAKE");
  if (fake && *fake) {
    parse_fake(fake);
    g.init_status = hipSuccess;
    return;
  }
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(g.init_error, sizeof g.init_error, "libcuda.so.1: %s", dlerror());
    g.init_status = hipErrorNoDevice;
    return;
  }
#define LOAD(f)                                                                   \
  p_##f = (__typeof__(f)*)dlsym(lib, STR(f));                                     \
  if (!p_##f) {                                                                   \
    snprintf(g.init_error, sizeof g.init_error, "libcuda.so.1 lacks %s", STR(f)); \
    g.init_status = hipErrorSharedObjectSymbolNotFound;                           \
    return;                                                                       \
  }
  CU_FUNCS(LOAD)
  CUresult r = p_cuInit(0);
  if (r != CUDA_SUCCESS) {
    snprintf(g.init_error, sizeof g.init_error, "cuInit: CUresult %d", (int)r);
    g.init_status = from_cu(r);
    return;
  }
  int n = 0;
  p_cuDeviceGetCount(&n);
  if (n > MAX_DEVICES) n = MAX_DEVICES;
  for (int i = 0; i < n; i++) p_cuDeviceGet(&g.dev[i], i);
  g.count = n;
  g.init_status = hipSuccess;
}

static hipError_t init(void) {
  pthread_once(&g.once, init_once);
  return g.init_status;
}

// Makes the thread's device current (its primary context, retained on first use).
static hipError_t bind(void) {
  hipError_t e = init();
  if (e != hipSuccess) return e;
  if (t_device < 0 || t_device >= g.count) return hipErrorInvalidDevice;
  if (g.fake) return hipSuccess;
  CUresult r = CUDA_SUCCESS;
  if (!__atomic_load_n(&g.ctx[t_device], __ATOMIC_ACQUIRE)) {
    pthread_mutex_lock(&g.lock);
    CUcontext c = g.ctx[t_device];
    if (!c) r = p_cuDevicePrimaryCtxRetain(&c, g.dev[t_device]);
    if (r == CUDA_SUCCESS) __atomic_store_n(&g.ctx[t_device], c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g.lock);
  }
  if (r != CUDA_SUCCESS) return from_cu(r);
  if (t_ctx == g.ctx[t_device]) return hipSuccess;
  r = p_cuCtxSetCurrent(g.ctx[t_device]);
  if (r == CUDA_SUCCESS) t_ctx = g.ctx[t_device];
  return from_cu(r);
}

#define BIND()                          \
  do {                                  \
    hipError_t e_ = bind();             \
    if (e_ != hipSuccess) return ret(e_); \
  } while (0)
#define FAIL_IF_INJECTED(name) \
  if (injected(name)) {        \
    record("%s -> %d (injected)", name, hipErrorInvalidValue); \
    return ret(hipErrorInvalidValue); \
  }
#define CU(call) ret(from_cu(call))

// ---- errors -----------------------------------------------------------------------------
EXPORT const char* hipGetErrorString(hipError_t e) {
  switch (e) {
    case hipSuccess: return "no error";
    case hipErrorInvalidValue: return "invalid argument";
    case hipErrorOutOfMemory: return "out of memory";
    case hipErrorNotInitialized: return "initialization error";
    case hipErrorDeinitialized: return "driver shutting down";
    case hipErrorNoDevice: return g.init_error[0] ? g.init_error : "no device";
    case hipErrorInvalidDevice: return "invalid device ordinal";
    case hipErrorInvalidImage: return "device kernel image is invalid";
    case hipErrorInvalidContext: return "invalid device context";
    case hipErrorNoBinaryForGpu: return "no kernel image is available for execution on the device";
    case hipErrorInvalidKernelFile: return "invalid kernel file";
    case hipErrorSharedObjectSymbolNotFound: return g.init_error[0] ? g.init_error : "shared object symbol not found";
    case hipErrorInvalidHandle: return "invalid resource handle";
    case hipErrorNotFound: return "named symbol not found";
    case hipErrorNotReady: return "device not ready";
    case hipErrorIllegalAddress: return "an illegal memory access was encountered";
    case hipErrorLaunchOutOfResources: return "too many resources requested for launch";
    case hipErrorHostMemoryAlreadyRegistered: return "part or all of the requested memory range is already mapped";
    case hipErrorHostMemoryNotRegistered: return "pointer does not correspond to a registered memory region";
    case hipErrorLaunchFailure: return "unspecified launch failure";
    case hipErrorNotSupported: return "operation not supported";
    default: return "unknown error";
  }
}

EXPORT hipError_t hipGetLastError(void) {
  hipError_t e = t_last_error;
  t_last_error = hipSuccess;
  return e;
}

// ---- devices ----------------------------------------------------------------------------
EXPORT hipError_t hipInit(unsigned int flags) {
  if (flags != 0) return ret(hipErrorInvalidValue);
  return ret(init());
}

EXPORT hipError_t hipGetDeviceCount(int* count) {
  hipError_t e = init();
  if (e != hipSuccess) return ret(e);
  if (!count) return ret(hipErrorInvalidValue);
  *count = g.count;
  return g.count > 0 ? hipSuccess : ret(hipErrorNoDevice);
}

EXPORT hipError_t hipSetDevice(int device) {
  hipError_t e = init();
  if (e != hipSuccess) return ret(e);
  if (device < 0 || device >= g.count) return ret(hipErrorInvalidDevice);
  t_device = device;
  return ret(bind());
}

EXPORT hipError_t hipDeviceGetName(char* name, int len, int device) {
  hipError_t e = init();
  if (e != hipSuccess) return ret(e);
  if (!name || len <= 0 || device < 0 || device >= g.count) return ret(hipErrorInvalidValue);
  if (g.fake) {
    snprintf(name, len, "HIP shim fake %s", g.fake_arch[device]);
    return hipSuccess;
  }
  return CU(p_cuDeviceGetName(name, len, g.dev[device]));
}

EXPORT hipError_t hipDeviceTotalMem(size_t* bytes, int device) {
  hipError_t e = init();
  if (e != hipSuccess) return ret(e);
  if (!bytes || device < 0 || device >= g.count) return ret(hipErrorInvalidValue);
  if (g.fake) {
    *bytes = (size_t)1 << 30;
    return hipSuccess;
  }
  return CU(p_cuDeviceTotalMem(bytes, g.dev[device]));
}

EXPORT hipError_t hipGetDevicePropertiesR0600(hipDeviceProp_tR0600* p, int device) {
  hipError_t e = init();
  if (e != hipSuccess) return ret(e);
  if (!p || device < 0 || device >= g.count) return ret(hipErrorInvalidValue);
  memset(p, 0, sizeof *p);
  const char* forced = getenv("HIPSHIM_INTEGRATED");
  if (g.fake) {
    snprintf(p->name, sizeof p->name, "HIP shim fake %s", g.fake_arch[device]);
    snprintf(p->gcnArchName, sizeof p->gcnArchName, "%s", g.fake_arch[device]);
    p->integrated = g.fake_integrated[device];
    p->totalGlobalMem = (size_t)1 << 30;
    p->warpSize = 32;
    p->unifiedAddressing = 1;
    p->canMapHostMemory = 1;
  } else {
    CUdevice d = g.dev[device];
    int major = 0, minor = 0, integrated = 0;
    p_cuDeviceGetName(p->name, sizeof p->name, d);
    p_cuDeviceTotalMem(&p->totalGlobalMem, d);
    p_cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d);
    p_cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d);
    p_cuDeviceGetAttribute(&integrated, CU_DEVICE_ATTRIBUTE_INTEGRATED, d);
    p_cuDeviceGetAttribute(&p->warpSize, CU_DEVICE_ATTRIBUTE_WARP_SIZE, d);
    p_cuDeviceGetAttribute(&p->multiProcessorCount, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d);
    p_cuDeviceGetAttribute(&p->unifiedAddressing, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, d);
    p_cuDeviceGetAttribute(&p->canMapHostMemory, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, d);
    p->major = major;
    p->minor = minor;
    p->integrated = integrated;
    snprintf(p->gcnArchName, sizeof p->gcnArchName, "sm_%d%d", major, minor);
  }
  if (forced && strcmp(forced, "1") == 0) p->integrated = 1;
  record("hipGetDeviceProperties device=%d name=%s gcnArchName=%s integrated=%d", device, p->name,
         p->gcnArchName, p->integrated);
  return hipSuccess;
}

EXPORT hipError_t hipRuntimeGetVersion(int* version) {
  hipError_t e = init();
  if (e != hipSuccess) return ret(e);
  if (!version) return ret(hipErrorInvalidValue);
  *version = 0;
  if (!g.fake) return CU(p_cuDriverGetVersion(version));  // hipnv: the CUDA version
  return hipSuccess;
}

EXPORT hipError_t hipMemGetInfo(size_t* free_bytes, size_t* total) {
  BIND();
  if (g.fake) {
    *free_bytes = *total = (size_t)1 << 30;
    return hipSuccess;
  }
  return CU(p_cuMemGetInfo(free_bytes, total));
}

// ---- memory -----------------------------------------------------------------------------
// Fake mode: every allocation is an anonymous mapping with its size in front.
static void* fake_alloc(size_t size) {
  size_t* p = mmap(NULL, size + 64, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  p[0] = size + 64;
  return (char*)p + 64;
}
static void fake_free(void* ptr) {
  if (!ptr) return;
  size_t* p = (size_t*)((char*)ptr - 64);
  munmap(p, p[0]);
}

EXPORT hipError_t hipMalloc(void** ptr, size_t size) {
  BIND();
  FAIL_IF_INJECTED("hipMalloc");
  if (!ptr) return ret(hipErrorInvalidValue);
  hipError_t e;
  if (g.fake) {
    *ptr = fake_alloc(size);
    e = *ptr ? hipSuccess : hipErrorOutOfMemory;
  } else {
    CUdeviceptr d = 0;
    e = from_cu(p_cuMemAlloc(&d, size));
    *ptr = (void*)d;
  }
  record("hipMalloc size=%zu -> %d", size, e);
  return ret(e);
}

EXPORT hipError_t hipFree(void* ptr) {
  BIND();
  record("hipFree");
  if (g.fake) {
    fake_free(ptr);
    return hipSuccess;
  }
  return CU(p_cuMemFree((CUdeviceptr)ptr));
}

// hipHostMalloc flags (AMD values) -> cuMemHostAlloc flags, as hipnv defines them: Portable,
// Mapped and WriteCombined are CUDA's; Coherent, NonCoherent (and NumaUser) mean nothing on
// NVIDIA (hipnv defines the first two as 0). Always DEVICEMAP (see the top of this file).
static unsigned host_alloc_flags(unsigned flags) {
  unsigned f = CU_MEMHOSTALLOC_DEVICEMAP;
  if (flags & hipHostMallocPortable) f |= CU_MEMHOSTALLOC_PORTABLE;
  if (flags & hipHostMallocWriteCombined) f |= CU_MEMHOSTALLOC_WRITECOMBINED;
  return f;
}

EXPORT hipError_t hipHostMalloc(void** ptr, size_t size, unsigned int flags) {
  BIND();
  FAIL_IF_INJECTED("hipHostMalloc");
  if (!ptr) return ret(hipErrorInvalidValue);
  // As ROCm's ihipHostMalloc: both coherence flags at once are invalid.
  if ((flags & hipHostMallocCoherent) && (flags & hipHostMallocNonCoherent)) {
    record("hipHostMalloc size=%zu flags=0x%x -> %d", size, flags, hipErrorInvalidValue);
    return ret(hipErrorInvalidValue);
  }
  hipError_t e;
  if (g.fake) {
    *ptr = fake_alloc(size);
    e = *ptr ? hipSuccess : hipErrorOutOfMemory;
  } else {
    e = from_cu(p_cuMemHostAlloc(ptr, size, host_alloc_flags(flags)));
  }
  record("hipHostMalloc size=%zu flags=0x%x cuda_flags=0x%x -> %d", size, flags, host_alloc_flags(flags), e);
  return ret(e);
}

EXPORT hipError_t hipHostFree(void* ptr) {
  BIND();
  record("hipHostFree");
  if (g.fake) {
    fake_free(ptr);
    return hipSuccess;
  }
  return CU(p_cuMemFreeHost(ptr));
}

// hipHostRegister flags (AMD values) -> cuMemHostRegister flags, as hipnv: Portable, Mapped,
// IoMemory, and 0x8 (hipHostRegisterReadOnly = cudaHostRegisterReadOnly there; the same bit is
// AMD's hipExtHostRegisterCoarseGrained). Always DEVICEMAP.
static unsigned host_register_flags(unsigned flags) {
  unsigned f = CU_MEMHOSTREGISTER_DEVICEMAP;
  if (flags & hipHostRegisterPortable) f |= CU_MEMHOSTREGISTER_PORTABLE;
  if (flags & hipHostRegisterIoMemory) f |= CU_MEMHOSTREGISTER_IOMEMORY;
  if (flags & hipHostRegisterReadOnly) f |= CU_MEMHOSTREGISTER_READ_ONLY;
  return f;
}

EXPORT hipError_t hipHostRegister(void* ptr, size_t size, unsigned int flags) {
  BIND();
  if (injected("hipHostRegister")) {
    record("hipHostRegister ptr=%p size=%zu flags=0x%x -> %d (injected)", ptr, size, flags, hipErrorInvalidValue);
    return ret(hipErrorInvalidValue);
  }
  if (!ptr || size == 0) return ret(hipErrorInvalidValue);
  hipError_t e = g.fake ? hipSuccess : from_cu(p_cuMemHostRegister(ptr, size, host_register_flags(flags)));
  record("hipHostRegister ptr=%p size=%zu flags=0x%x cuda_flags=0x%x -> %d", ptr, size, flags,
         host_register_flags(flags), e);
  return ret(e);
}

EXPORT hipError_t hipHostUnregister(void* ptr) {
  BIND();
  hipError_t e = g.fake ? hipSuccess : from_cu(p_cuMemHostUnregister(ptr));
  record("hipHostUnregister ptr=%p -> %d", ptr, e);
  return ret(e);
}

EXPORT hipError_t hipHostGetDevicePointer(void** dev_ptr, void* host_ptr, unsigned int flags) {
  BIND();
  FAIL_IF_INJECTED("hipHostGetDevicePointer");
  if (!dev_ptr || flags != 0) return ret(hipErrorInvalidValue);  // ROCm: flags must be 0
  hipError_t e;
  if (g.fake) {
    *dev_ptr = host_ptr;
    e = hipSuccess;
  } else {
    CUdeviceptr d = 0;
    e = from_cu(p_cuMemHostGetDevicePointer(&d, host_ptr, 0));
    *dev_ptr = (void*)d;
  }
  record("hipHostGetDevicePointer host=%p -> %d device=%p", host_ptr, e, *dev_ptr);
  return ret(e);
}

// ---- copies -----------------------------------------------------------------------------
EXPORT hipError_t hipMemcpyHtoDAsync(void* dst, void* src, size_t n, hipStream_t s) {
  BIND();
  if (g.fake) return memcpy(dst, src, n), hipSuccess;
  return CU(p_cuMemcpyHtoDAsync((CUdeviceptr)dst, src, n, (CUstream)s));
}
EXPORT hipError_t hipMemcpyDtoHAsync(void* dst, void* src, size_t n, hipStream_t s) {
  BIND();
  if (g.fake) return memcpy(dst, src, n), hipSuccess;
  return CU(p_cuMemcpyDtoHAsync(dst, (CUdeviceptr)src, n, (CUstream)s));
}
EXPORT hipError_t hipMemcpyDtoDAsync(void* dst, void* src, size_t n, hipStream_t s) {
  BIND();
  if (g.fake) return memmove(dst, src, n), hipSuccess;
  return CU(p_cuMemcpyDtoDAsync((CUdeviceptr)dst, (CUdeviceptr)src, n, (CUstream)s));
}
EXPORT hipError_t hipMemsetD8Async(void* dst, unsigned char value, size_t n, hipStream_t s) {
  BIND();
  if (g.fake) return memset(dst, value, n), hipSuccess;
  return CU(p_cuMemsetD8Async((CUdeviceptr)dst, value, n, (CUstream)s));
}

// ---- streams and events -----------------------------------------------------------------
static int fake_handles;  // fake mode: distinct non-null handles

EXPORT hipError_t hipStreamCreateWithFlags(hipStream_t* s, unsigned int flags) {
  BIND();
  if (!s) return ret(hipErrorInvalidValue);
  hipError_t e;
  if (g.fake) {
    *s = (hipStream_t)(size_t)(0x1000 + 16 * __atomic_add_fetch(&fake_handles, 1, __ATOMIC_RELAXED));
    e = hipSuccess;
  } else {
    e = from_cu(p_cuStreamCreate((CUstream*)s, (flags & hipStreamNonBlocking) ? CU_STREAM_NON_BLOCKING : CU_STREAM_DEFAULT));
  }
  record("hipStreamCreateWithFlags flags=0x%x -> %d", flags, e);
  return ret(e);
}
EXPORT hipError_t hipStreamDestroy(hipStream_t s) {
  BIND();
  record("hipStreamDestroy");
  return g.fake ? hipSuccess : CU(p_cuStreamDestroy((CUstream)s));
}
EXPORT hipError_t hipStreamSynchronize(hipStream_t s) {
  BIND();
  return g.fake ? hipSuccess : CU(p_cuStreamSynchronize((CUstream)s));
}
EXPORT hipError_t hipStreamWaitEvent(hipStream_t s, hipEvent_t ev, unsigned int flags) {
  BIND();
  return g.fake ? hipSuccess : CU(p_cuStreamWaitEvent((CUstream)s, (CUevent)ev, flags));
}

// hipEventCreateWithFlags (AMD values) -> cuEventCreate: BlockingSync, DisableTiming and
// Interprocess are CUDA's; ReleaseToDevice/ReleaseToSystem are no-ops on NVIDIA (hipnv: 0).
EXPORT hipError_t hipEventCreateWithFlags(hipEvent_t* ev, unsigned int flags) {
  BIND();
  if (!ev) return ret(hipErrorInvalidValue);
  unsigned f = 0;
  if (flags & hipEventBlockingSync) f |= CU_EVENT_BLOCKING_SYNC;
  if (flags & hipEventDisableTiming) f |= CU_EVENT_DISABLE_TIMING;
  if (flags & hipEventInterprocess) f |= CU_EVENT_INTERPROCESS;
  hipError_t e;
  if (g.fake) {
    *ev = (hipEvent_t)(size_t)(0x1000 + 16 * __atomic_add_fetch(&fake_handles, 1, __ATOMIC_RELAXED));
    e = hipSuccess;
  } else {
    e = from_cu(p_cuEventCreate((CUevent*)ev, f));
  }
  record("hipEventCreateWithFlags flags=0x%x cuda_flags=0x%x -> %d", flags, f, e);
  return ret(e);
}
EXPORT hipError_t hipEventRecord(hipEvent_t ev, hipStream_t s) {
  BIND();
  return g.fake ? hipSuccess : CU(p_cuEventRecord((CUevent)ev, (CUstream)s));
}
EXPORT hipError_t hipEventSynchronize(hipEvent_t ev) {
  BIND();
  return g.fake ? hipSuccess : CU(p_cuEventSynchronize((CUevent)ev));
}
EXPORT hipError_t hipEventDestroy(hipEvent_t ev) {
  BIND();
  return g.fake ? hipSuccess : CU(p_cuEventDestroy((CUevent)ev));
}
EXPORT hipError_t hipEventElapsedTime(float* ms, hipEvent_t a, hipEvent_t b) {
  BIND();
  if (g.fake) return *ms = 0, hipSuccess;
  return CU(p_cuEventElapsedTime(ms, (CUevent)a, (CUevent)b));
}

// ---- modules and launches ---------------------------------------------------------------
EXPORT hipError_t hipModuleLoadData(hipModule_t* m, const void* image) {
  BIND();
  FAIL_IF_INJECTED("hipModuleLoadData");
  if (!m || !image) return ret(hipErrorInvalidValue);
  hipError_t e = g.fake ? hipErrorNotSupported : from_cu(p_cuModuleLoadData((CUmodule*)m, image));
  record("hipModuleLoadData -> %d", e);
  return ret(e);
}
EXPORT hipError_t hipModuleUnload(hipModule_t m) {
  BIND();
  return g.fake ? hipSuccess : CU(p_cuModuleUnload((CUmodule)m));
}
EXPORT hipError_t hipModuleGetFunction(hipFunction_t* f, hipModule_t m, const char* name) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  return CU(p_cuModuleGetFunction((CUfunction*)f, (CUmodule)m, name));
}
EXPORT hipError_t hipModuleLaunchKernel(hipFunction_t f, unsigned gx, unsigned gy, unsigned gz,
                                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                        hipStream_t s, void** params, void** extra) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  return CU(p_cuLaunchKernel((CUfunction)f, gx, gy, gz, bx, by, bz, shared, (CUstream)s, params, extra));
}

// ---- graphs -----------------------------------------------------------------------------
// AMD's hipKernelNodeParams field order -> CUDA_KERNEL_NODE_PARAMS.
static CUDA_KERNEL_NODE_PARAMS node_params(const hipKernelNodeParams* p) {
  CUDA_KERNEL_NODE_PARAMS c;
  memset(&c, 0, sizeof c);
  c.func = (CUfunction)p->func;
  c.gridDimX = p->gridDim.x;
  c.gridDimY = p->gridDim.y;
  c.gridDimZ = p->gridDim.z;
  c.blockDimX = p->blockDim.x;
  c.blockDimY = p->blockDim.y;
  c.blockDimZ = p->blockDim.z;
  c.sharedMemBytes = p->sharedMemBytes;
  c.kernelParams = p->kernelParams;
  c.extra = p->extra;
  return c;
}

EXPORT hipError_t hipGraphCreate(hipGraph_t* graph, unsigned int flags) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  hipError_t e = from_cu(p_cuGraphCreate((CUgraph*)graph, flags));
  record("hipGraphCreate -> %d", e);
  return ret(e);
}
EXPORT hipError_t hipGraphAddKernelNode(hipGraphNode_t* node, hipGraph_t graph, const hipGraphNode_t* deps,
                                        size_t ndeps, const hipKernelNodeParams* params) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  if (!params) return ret(hipErrorInvalidValue);
  CUDA_KERNEL_NODE_PARAMS c = node_params(params);
  return CU(p_cuGraphAddKernelNode((CUgraphNode*)node, (CUgraph)graph, (const CUgraphNode*)deps, ndeps, &c));
}
EXPORT hipError_t hipGraphInstantiateWithFlags(hipGraphExec_t* exec, hipGraph_t graph, unsigned long long flags) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  hipError_t e = from_cu(p_cuGraphInstantiateWithFlags((CUgraphExec*)exec, (CUgraph)graph, flags));
  record("hipGraphInstantiateWithFlags flags=0x%llx -> %d", flags, e);
  return ret(e);
}
EXPORT hipError_t hipGraphExecKernelNodeSetParams(hipGraphExec_t exec, hipGraphNode_t node,
                                                  const hipKernelNodeParams* params) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  if (!params) return ret(hipErrorInvalidValue);
  CUDA_KERNEL_NODE_PARAMS c = node_params(params);
  return CU(p_cuGraphExecKernelNodeSetParams((CUgraphExec)exec, (CUgraphNode)node, &c));
}
EXPORT hipError_t hipGraphLaunch(hipGraphExec_t exec, hipStream_t s) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  return CU(p_cuGraphLaunch((CUgraphExec)exec, (CUstream)s));
}
EXPORT hipError_t hipGraphExecDestroy(hipGraphExec_t exec) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  return CU(p_cuGraphExecDestroy((CUgraphExec)exec));
}
EXPORT hipError_t hipGraphDestroy(hipGraph_t graph) {
  BIND();
  if (g.fake) return ret(hipErrorNotSupported);
  return CU(p_cuGraphDestroy((CUgraph)graph));
}
