#!/usr/bin/env python3
"""Writes e2b-mul_mat.txt: Gemma3n E2B's MUL_MAT shapes as a test-backend-ops test file
(`test-backend-ops perf -b BACKEND -o MUL_MAT --test-file tests/kernels/perf/e2b-mul_mat.txt`),
the perf cases test-backend-ops' own list lacks (its MUL_MAT perf shapes are m=4096, k=14336):

- the output head, 262144 x 2048 (Q6_K in Q4_K_M files; Q4_K, Q8_0, F16 for the other files);
- the FFN matrices, 2048 x 8192 (gate, up) and 8192 x 2048 (down), every weight type the iGPU
  runs;
- n = 1, 2, 4, 8 columns (decode, parallel slots, speculative drafts) and 512 (prefill).

Line format (make_test_cases_from_file in llama.cpp's tests/test-backend-ops.cpp): op type ne0..3
n_params n_src {type ne0..3 nb0..3} name. Op and type ids are ggml's (GGML_OP_MUL_MAT = 29 at the
pinned llama.cpp; type ids are fixed by GGUF). Rerun after a llama.cpp bump that moves the op enum.
"""
import os

MUL_MAT = 29
TYPES = {  # id: (block elements, block bytes)
    "f16": (1, 1, 2),
    "bf16": (30, 1, 2),
    "q4_0": (2, 32, 18),
    "q5_0": (6, 32, 22),
    "q8_0": (8, 32, 34),
    "q4_K": (12, 256, 144),
    "q5_K": (13, 256, 176),
    "q6_K": (14, 256, 210),
}


def line(tname, k, m, n):
    tid, blk, bb = TYPES[tname]
    row = k // blk * bb
    w = [tid, k, m, 1, 1, bb, row, row * m, row * m]
    x = [0, k, n, 1, 1, 4, 4 * k, 4 * k * n, 4 * k * n]
    return " ".join(str(v) for v in [MUL_MAT, 0, m, n, 1, 1, 0, 2, *w, *x, "-"])


def main():
    out = []
    for t in ["q6_K", "q4_K", "q8_0", "f16"]:  # the output head
        for n in [1, 2, 4, 8, 512]:
            out.append(line(t, 2048, 262144, n))
    for t in TYPES:
        for k, m in [(2048, 8192), (8192, 2048)]:
            for n in [1, 2, 4, 8, 512]:
                out.append(line(t, k, m, n))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2b-mul_mat.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"{path}: {len(out)} cases")


if __name__ == "__main__":
    main()
