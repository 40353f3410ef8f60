// Marks the end of the kernels' static storage (__shared__ variables): linked just after
// kernels.o. See emu.cpp.
extern "C" {
char ucn_emu_shared_end[1];
}
