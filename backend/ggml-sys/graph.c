// What a backend needs from a graph beyond ggml's public API: its id and how often each node's
// result is used. Both live in `struct ggml_cgraph`, which only ggml's internal header
// (ggml/src/ggml-impl.h) defines; compiled here against exactly that header, as ggml-cuda is,
// so the layout cannot drift from the linked libggml-base.
#include "ggml-impl.h"

// The graph's id: ggml_backend_sched gives each split a new one when it splits a graph, and
// keeps it while the same split is computed again (llama.cpp reusing its graph). 0: none.
uint64_t ucn_graph_uid(const struct ggml_cgraph *g) {
    return g->uid;
}

// How many nodes of the whole graph (not only this split: a split's graph is a view that
// shares the full graph's counts) read node i's result; ggml-cuda's fusion test uses the same.
int32_t ucn_graph_node_use_count(const struct ggml_cgraph *g, int i) {
    return ggml_node_get_use_count(g, i);
}
