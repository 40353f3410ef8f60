"""Malformed GGUF files through llama-completion --backend unicorn (emulated) end with an exit
status and a message: no signal, no hang (known aborts in llama.cpp's own frames are counted
apart and printed, see gguf_fuzz.KNOWN_LLAMA_ABORTS). The CI version runs a quarter of the random variants
(about 110, every gemma3n hyper-parameter case included); the full run (341 variants) is
`python3 tests/integration/gguf_fuzz.py`."""

from __future__ import annotations

from gguf_fuzz import ACCEPTED, fuzz, summary


def test_gguf_fuzz_emulated(model_path, gemma3n_tiny, bin_dir):
    runs = fuzz(model_path, gemma3n_tiny, seed=2, scale=0.25)
    print(summary(runs))
    bad = [r for r in runs if r.outcome not in ACCEPTED]
    assert len(runs) >= 100
    assert not bad, "\n".join(f"{r.variant.kind}: {r.variant.what}: {r.outcome} (rc {r.rc}) {r.line[:300]}"
                              for r in bad[:20])
