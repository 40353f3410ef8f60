// Marks the start of the kernels' static storage (__shared__ variables): linked just before
// kernels.o. See emu.cpp.
extern "C" {
char ucn_emu_shared_begin[1];
}
