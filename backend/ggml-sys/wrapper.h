// The ggml surface a backend module sees: the public API, the backend implementation
// contract, and the GGUF reader (for offload planning). Bindgen reads exactly these headers from the fetched tree (vendor/llama.cpp).
#include "ggml.h"
#include "ggml-backend.h"
#include "ggml-backend-impl.h"
#include "gguf.h"
