"""Caption-encoding throughput of the JAX MiniLM encoder vs transformers (PyTorch) on the same CPU.

    .venv/bin/python -u benchmarks/text_encoders.py [--batch 32] [--repeats 5]

Both encode the same 32 captions to per-token states (50 tokens, padding zeroed); the figure is
captions per second (best of --repeats after a warm-up), and the ratio JAX / PyTorch. Training
never pays this per step (genmo_jax/model/text/cache.py), so it matters for cache filling and
for sampling from a timeline.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from genmo_jax.model.text.minilm import MiniLMTextEncoder, default_minilm_path  # noqa: E402

from timing import best_seconds  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

WORDS = "a person walks forward turns around jumps waves both hands sits down slowly then runs".split()


def captions(n):
    return [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(6 + i % 9)) for i in range(n)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    texts = captions(args.batch)
    encoder = MiniLMTextEncoder()
    jax_s = best_seconds(lambda: encoder.encode(texts, batch_size=args.batch), args.repeats)
    print(f"JAX MiniLM: {args.batch / jax_s:.0f} captions/s ({jax_s * 1e3:.1f} ms per batch of {args.batch})")
    try:
        import torch
        import transformers
    except ImportError:
        print("transformers/torch not installed: no PyTorch comparison")
        return
    torch.set_num_threads(os.cpu_count() or 1)
    path = str(default_minilm_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()

    def torch_encode():
        batch = tokenizer(texts, padding="max_length", max_length=50, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            return (model(**batch).last_hidden_state * batch["attention_mask"][..., None]).numpy()

    torch_s = best_seconds(torch_encode, args.repeats)
    print(f"PyTorch MiniLM (transformers {transformers.__version__}, torch {torch.__version__}): "
          f"{args.batch / torch_s:.0f} captions/s; JAX / PyTorch throughput = {torch_s / jax_s:.2f}")


if __name__ == "__main__":
    main()
