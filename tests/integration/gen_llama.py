"""A small llama-architecture GGUF with seeded random weights, for the tests that show the plugin
is generic over models (nothing in it knows Gemma).

    python3 tests/integration/gen_llama.py --tokenizer-from GEMMA3.gguf -o out.gguf [--seed N]

Shape: 4 layers, hidden 128, 4 query heads and 2 KV heads of size 32 (GQA), SwiGLU FFN 256,
RMS norm, RoPE; the token embedding is tied to the output head. The attention and FFN weights
are Q8_0, the embedding F16, norms F32. The tokenizer (262,144 tokens) is copied from a Gemma 3
GGUF, so prompts tokenise as real text. Random weights: the text is meaningless; tests judge it
against the CPU backend on the same file. About 40 MB, written in a few seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "vendor" / "llama.cpp" / "gguf-py"))
import gguf  # noqa: E402  (vendor/llama.cpp/gguf-py)
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT  # noqa: E402

LAYERS, HIDDEN, HEADS, KV_HEADS, HEAD_DIM, FFN = 4, 128, 4, 2, 32, 256


def tokenizer_kv(path: Path) -> dict:
    """The tokenizer.* keys of a GGUF, read by scripts/gen-gemma3n.py's reader."""
    spec = importlib.util.spec_from_file_location("gen_gemma3n", REPO / "scripts" / "gen-gemma3n.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_gemma3n"] = mod
    spec.loader.exec_module(mod)
    tok, _ = mod.tokenizer_kv(path)
    return tok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer-from", type=Path, required=True)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    tok = tokenizer_kv(args.tokenizer_from)
    n_vocab = len(tok["tokenizer.ggml.tokens"][1])
    rng = np.random.default_rng(args.seed)

    tmp = args.output.with_name(args.output.name + ".tmp")
    wr = gguf.GGUFWriter(tmp, "llama")
    wr.add_type("model")
    wr.add_name("llama synthetic (Unicorn tests)")
    wr.add_description("Seeded random weights written by the Unicorn project's tests/integration/gen_llama.py; "
                       "not a trained model. Tokenizer copied from a Gemma 3 GGUF.")
    wr.add_context_length(8192)
    wr.add_embedding_length(HIDDEN)
    wr.add_block_count(LAYERS)
    wr.add_feed_forward_length(FFN)
    wr.add_head_count(HEADS)
    wr.add_head_count_kv(KV_HEADS)
    wr.add_key_length(HEAD_DIM)
    wr.add_value_length(HEAD_DIM)
    wr.add_rope_dimension_count(HEAD_DIM)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-6)
    wr.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    wr.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, (vt, val, sub) in tok.items():
        if vt == VT.ARRAY:
            wr.add_key_value(key, val if isinstance(val, list) else val.tolist(), vt, sub_type=sub)
        else:
            wr.add_key_value(key, val, vt)

    def weight(name: str, rows: int, cols: int, qtype=QT.Q8_0, std: float = 0.05):
        """A [rows, cols] matrix (ggml: ne0 = cols, ne1 = rows)."""
        w = (rng.standard_normal((rows, cols), dtype=np.float32) * std).astype(np.float32)
        if qtype == QT.F16:
            wr.add_tensor(name, w.astype(np.float16))
        else:
            wr.add_tensor(name, gguf.quants.quantize(w, qtype), raw_dtype=qtype)

    def norm(name: str, n: int):
        wr.add_tensor(name, (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32))

    weight("token_embd.weight", n_vocab, HIDDEN, QT.F16, std=0.5)
    norm("output_norm.weight", HIDDEN)
    for i in range(LAYERS):
        b = f"blk.{i}"
        norm(f"{b}.attn_norm.weight", HIDDEN)
        weight(f"{b}.attn_q.weight", HEADS * HEAD_DIM, HIDDEN)
        weight(f"{b}.attn_k.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        weight(f"{b}.attn_v.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        weight(f"{b}.attn_output.weight", HIDDEN, HEADS * HEAD_DIM)
        norm(f"{b}.ffn_norm.weight", HIDDEN)
        weight(f"{b}.ffn_gate.weight", FFN, HIDDEN)
        weight(f"{b}.ffn_up.weight", FFN, HIDDEN)
        weight(f"{b}.ffn_down.weight", HIDDEN, FFN)

    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    tmp.rename(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
