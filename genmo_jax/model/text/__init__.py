"""Text encoders for GENMO's text condition (SPEC A10): T5 and the embedded-default MiniLM.

    encoder = load_text_encoder(config.text)
    states, mask = encoder.encode(["a person walks in a circle"])   # (N, 50, D) float32, (N, 50) bool

`config.text` fields: `encoder` ("minilm", "t5" or "none"), `path` (T5: a HF folder with
config.json, model.safetensors and spiece.model; MiniLM: empty for the packaged weights),
optional `max_length` (50) and `cache_dir` (an embedding cache, see `cache.py`).
"""

from __future__ import annotations

from genmo_jax.model.text.base import TextEncoder
from genmo_jax.model.text.cache import CachedTextEncoder, TextEmbeddingCache

ENCODERS = ("minilm", "t5", "none")


def load_text_encoder(text_config):
    """Builds the encoder that `text_config` names; None for "none" (no text condition)."""
    kind = text_config.get("encoder", "minilm")
    path = text_config.get("path", "") or ""
    max_length = int(text_config.get("max_length", 50))
    if kind == "none":
        return None
    if kind == "minilm":
        from genmo_jax.model.text.minilm import MiniLMTextEncoder

        encoder = MiniLMTextEncoder(path or None, max_length=max_length)
    elif kind == "t5":
        if not path:
            raise ValueError("text.path must name a T5 folder (config.json, model.safetensors, spiece.model)")
        from genmo_jax.model.text.t5 import T5TextEncoder

        encoder = T5TextEncoder(path, max_length=max_length)
    else:
        raise ValueError(f"text.encoder must be one of {ENCODERS}, got '{kind}'")
    cache_dir = text_config.get("cache_dir", "")
    if cache_dir:
        encoder = CachedTextEncoder(encoder, TextEmbeddingCache(cache_dir, encoder.name))
    return encoder


__all__ = ["CachedTextEncoder", "TextEmbeddingCache", "TextEncoder", "load_text_encoder", "ENCODERS"]
