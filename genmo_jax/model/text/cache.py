"""A disk cache of per-token text embeddings, so training never runs the text encoder per step.

Layout: `<root>/<encoder name>/<sha1(caption)[:2]>/<sha1(caption)>.npz`, each file holding
`states` (S, D) (float16 or float32 as chosen), `mask` (S,) bool and `caption` (to detect
collisions and to make the folder inspectable). Files are written atomically (temp file then
rename), so several data workers or hosts may fill one cache at the same time.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np


class TextEmbeddingCache:
    """caption -> (states (S, D) float32, mask (S,) bool) for one encoder, stored as .npz files."""

    def __init__(self, root, encoder_name: str, dtype=np.float32):
        if not encoder_name or not re.fullmatch(r"[A-Za-z0-9._+-]+", encoder_name):
            raise ValueError(f"encoder name '{encoder_name}' must be non-empty and use only [A-Za-z0-9._+-]")
        if np.dtype(dtype) not in (np.dtype(np.float16), np.dtype(np.float32)):
            raise ValueError(f"cache dtype must be float16 or float32, got {dtype}")
        self.folder = Path(root) / encoder_name
        self.encoder_name = encoder_name
        self.dtype = np.dtype(dtype)

    def path(self, caption: str) -> Path:
        digest = hashlib.sha1(caption.encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npz"

    def __contains__(self, caption: str) -> bool:
        return self.path(caption).is_file()

    def get(self, caption: str):
        """(states (S, D) float32, mask (S,) bool), or None when the caption is not cached."""
        path = self.path(caption)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            if str(data["caption"]) != caption:
                raise ValueError(f"{path}: holds a different caption (hash collision or corrupt cache)")
            return data["states"].astype(np.float32), data["mask"].astype(bool)

    def put(self, caption: str, states: np.ndarray, mask: np.ndarray) -> None:
        states, mask = np.asarray(states), np.asarray(mask, bool)
        if states.ndim != 2 or mask.shape != states.shape[:1]:
            raise ValueError(f"expected states (S, D) and mask (S,), got {states.shape} and {mask.shape}")
        path = self.path(caption)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, states=states.astype(self.dtype), mask=mask, caption=np.asarray(caption))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def lookup(self, captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Stacked cached embeddings (N, S, D), masks (N, S); the empty caption is all zeros.

        Raises KeyError naming the captions that are missing (run `fill` first).
        """
        found = {c: self.get(c) for c in set(captions) if c.strip()}
        missing = sorted(c for c, v in found.items() if v is None)
        if missing:
            raise KeyError(f"{len(missing)} caption(s) not in the text cache {self.folder}, e.g. {missing[:3]}")
        if not found:
            raise KeyError("cannot infer the embedding shape from empty captions only")
        states_shape = next(iter(found.values()))[0].shape
        states = np.zeros((len(captions),) + states_shape, np.float32)
        mask = np.zeros((len(captions), states_shape[0]), bool)
        for row, caption in enumerate(captions):
            if caption.strip():
                states[row], mask[row] = found[caption]
        return states, mask

    def fill(self, captions, encoder, batch_size: int = 32) -> int:
        """Encodes every non-empty caption not yet cached; returns how many were added."""
        todo = sorted({c for c in captions if c.strip() and c not in self})
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            states, mask = encoder.encode(chunk, batch_size=batch_size)
            for caption, s, m in zip(chunk, states, mask):
                self.put(caption, s, m)
        return len(todo)


class CachedTextEncoder:
    """An encoder with the `TextEncoder.encode` contract that consults the cache first."""

    def __init__(self, encoder, cache: TextEmbeddingCache):
        if cache.encoder_name != encoder.name:
            raise ValueError(f"cache is for encoder '{cache.encoder_name}', not '{encoder.name}'")
        self.encoder, self.cache = encoder, cache
        self.name, self.dim, self.max_length = encoder.name, encoder.dim, encoder.max_length

    def encode(self, texts, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        texts = list(texts)
        self.cache.fill(texts, self.encoder, batch_size)
        if not any(t.strip() for t in texts):
            return (np.zeros((len(texts), self.max_length, self.dim), np.float32),
                    np.zeros((len(texts), self.max_length), bool))
        return self.cache.lookup(texts)


def main(argv=None) -> int:
    """Fills a cache from a text file of captions (one per line), before training."""
    import argparse

    from genmo_jax.model.text import load_text_encoder

    parser = argparse.ArgumentParser(prog="python -m genmo_jax.model.text.cache", description=main.__doc__)
    parser.add_argument("--captions", required=True, help="UTF-8 text file, one caption per line")
    parser.add_argument("--cache_dir", required=True)
    parser.add_argument("--encoder", default="minilm", help="minilm or t5")
    parser.add_argument("--path", default="", help="T5 folder (config.json, model.safetensors, spiece.model)")
    parser.add_argument("--max_length", type=int, default=50)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float16"))
    args = parser.parse_args(argv)
    captions_file = Path(args.captions)
    if not captions_file.is_file():
        raise FileNotFoundError(f"--captions: no file {captions_file}")
    captions = [line.strip() for line in captions_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    encoder = load_text_encoder({"encoder": args.encoder, "path": args.path, "max_length": args.max_length})
    if encoder is None:
        raise ValueError("--encoder none has nothing to cache")
    cache = TextEmbeddingCache(args.cache_dir, encoder.name, dtype=np.dtype(args.dtype))
    added = cache.fill(captions, encoder)
    print(f"{added} new / {len(set(captions))} distinct captions cached in {cache.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
