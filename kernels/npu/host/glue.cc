// Host-only glue for the emulated NPU: the per-thread cascade binding that aie_host's
// put_mcd / get_scd_v16accfloat use.
#include <aie_api/aie.hpp>

extern "C" {

// Binds this thread's cascade input (from the west neighbour) and output (to the east
// neighbour); null unbinds.
void ucn_aie_host_bind_cascade(ucn_cascade *in, ucn_cascade *out) {
    aie::host::cascade_in() = in;
    aie::host::cascade_out() = out;
}

// 1 if, since the last call, a cascade read found no word or a write found no room (the
// hardware would have stalled for ever): the emulator reports it as a schedule error.
int ucn_aie_host_take_cascade_fault(void) {
    const bool f = aie::host::cascade_fault();
    aie::host::cascade_fault() = false;
    return f ? 1 : 0;
}

// 1 if, since the last call, the kernel compared a NaN or multiplied a non-finite f32 on
// this thread (AIE-ML would have produced NaN or an arbitrary mask): a kernel error.
int ucn_aie_host_take_arith_fault(void) {
    const bool f = aie::host::arith_fault();
    aie::host::arith_fault() = false;
    return f ? 1 : 0;
}
}
