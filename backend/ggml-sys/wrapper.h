// The ggml surface a backend module sees: the public API plus the backend implementation
// contract. Bindgen reads exactly these headers from the fetched tree (vendor/llama.cpp).
#include "ggml.h"
#include "ggml-backend.h"
#include "ggml-backend-impl.h"
