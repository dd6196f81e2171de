"""The T5 encoder (Raffel et al. 2020) as pure JAX functions, loading Hugging Face checkpoints.

GENMO's text condition (SPEC A10, B §5.5): T5 (t5-3b in `configs/full.py`) tokenised with its
SentencePiece model to 50 tokens (truncated, `</s>` appended, padded with `<pad>`), per-token
last hidden states (50, d_model) with padding positions zeroed. Any T5 size loads from a folder
holding `config.json`, `model.safetensors` (or a sharded index) and `spiece.model`; only the
encoder half is read, so full `T5ForConditionalGeneration` checkpoints work too.

The network, as in Hugging Face `T5EncoderModel`:
  token embedding (no scaling) -> N x [RMS-norm -> self-attention with a learned relative
  position bias (computed once from block 0's table, shared by all layers; scores NOT scaled
  by 1/√d_kv) -> residual; RMS-norm -> feed-forward (relu, or gated: act(x W0) * (x W1)) ->
  residual] -> final RMS-norm. T5's "LayerNorm" is x / √(mean(x²) + ε) * w (no centring, no bias).

Layers are stacked on a leading axis and run with `lax.scan`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.model.text.base import TextEncoder
from genmo_jax.model.text.weights import read_json, read_safetensors, take

_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}
_MASKED = -1e9  # additive score for padding keys; every row keeps its </s> key, so none is empty


@dataclasses.dataclass(frozen=True)
class T5EncoderConfig:
    """The fields of a HF T5 `config.json` that the encoder needs."""

    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_heads: int
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"

    @classmethod
    def from_json(cls, path) -> "T5EncoderConfig":
        raw = read_json(Path(path))
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads"} - set(raw)
        if missing:
            raise ValueError(f"{path}: T5 config lacks {sorted(missing)}")
        config = cls(**{k: v for k, v in raw.items() if k in names})
        config.activation  # validates feed_forward_proj early
        return config

    @property
    def is_gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def activation(self) -> str:
        # HF maps "gated-gelu" to the tanh approximation ("gelu_new"), kept for T5 v1.1 parity.
        name = "gelu_new" if self.feed_forward_proj == "gated-gelu" else self.feed_forward_proj.split("-")[-1]
        if name not in _ACTIVATIONS or len(self.feed_forward_proj.split("-")) > 2:
            raise ValueError(f"unsupported T5 feed_forward_proj '{self.feed_forward_proj}'")
        return name


def relative_position_buckets(query_length: int, key_length: int, num_buckets: int = 32,
                              max_distance: int = 128, bidirectional: bool = True) -> np.ndarray:
    """T5's bucket index of every (query, key) offset, (query_length, key_length) int32.

    Half the buckets per direction (bidirectional); inside a direction, offsets below
    num_buckets/4 get their own bucket, larger ones share log-spaced buckets up to max_distance.
    The log is evaluated in float32 exactly as the reference does, so bucket edges agree.
    """
    relative = np.arange(key_length)[None, :] - np.arange(query_length)[:, None]   # key − query
    buckets = np.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative > 0).astype(relative.dtype) * num_buckets
        relative = np.abs(relative)
    else:
        relative = -np.minimum(relative, 0)
    max_exact = num_buckets // 2
    is_small = relative < max_exact
    with np.errstate(divide="ignore"):
        scaled = (np.log(relative.astype(np.float32) / np.float32(max_exact))
                  / np.float32(math.log(max_distance / max_exact)) * np.float32(num_buckets - max_exact))
    large = max_exact + np.where(is_small, 0, scaled).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return (buckets + np.where(is_small, relative, large)).astype(np.int32)


def t5_params_from_tensors(tensors: dict[str, np.ndarray], config: T5EncoderConfig, source="T5 checkpoint") -> dict:
    """HF tensor dict -> our pytree. torch Linear weights (out, in) are transposed to (in, out)."""
    embed = tensors.pop("shared.weight", None)
    if embed is None:
        embed = tensors.pop("encoder.embed_tokens.weight", None)
    if embed is None:
        raise ValueError(f"{source}: checkpoint has neither 'shared.weight' nor 'encoder.embed_tokens.weight'")
    block = "encoder.block.{}.layer.{}.{}"

    def stack(layer, name, transpose=True):
        mats = [take(tensors, block.format(i, layer, name), source) for i in range(config.num_layers)]
        stacked = np.stack([m.T if transpose else m for m in mats])
        del mats
        return jnp.asarray(stacked)

    layers = {
        "attn_norm": stack(0, "layer_norm.weight", transpose=False),
        "q": stack(0, "SelfAttention.q.weight"),
        "k": stack(0, "SelfAttention.k.weight"),
        "v": stack(0, "SelfAttention.v.weight"),
        "o": stack(0, "SelfAttention.o.weight"),
        "ff_norm": stack(1, "layer_norm.weight", transpose=False),
        "wo": stack(1, "DenseReluDense.wo.weight"),
    }
    if config.is_gated:
        layers["wi_0"] = stack(1, "DenseReluDense.wi_0.weight")
        layers["wi_1"] = stack(1, "DenseReluDense.wi_1.weight")
    else:
        layers["wi"] = stack(1, "DenseReluDense.wi.weight")
    return {
        "embed": jnp.asarray(embed),
        "rel_bias": jnp.asarray(take(tensors, block.format(0, 0, "SelfAttention.relative_attention_bias.weight"), source)),
        "layers": layers,
        "final_norm": jnp.asarray(take(tensors, "encoder.final_layer_norm.weight", source)),
    }


def _rms_norm(x, weight, eps):
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps) * weight


def t5_encoder_forward(params: dict, input_ids: jnp.ndarray, mask: jnp.ndarray, *, config: T5EncoderConfig) -> jnp.ndarray:
    """input_ids (N, S) int32, mask (N, S) bool -> last hidden states (N, S, d_model) float32.

    Padding positions are computed but hold no meaning; callers zero them (see `TextEncoder`).
    """
    n, s = input_ids.shape
    heads, d_kv = config.num_heads, config.d_kv
    act = _ACTIVATIONS[config.activation]
    eps = config.layer_norm_epsilon
    buckets = relative_position_buckets(s, s, config.relative_attention_num_buckets,
                                        config.relative_attention_max_distance)
    position_bias = jnp.transpose(params["rel_bias"][buckets], (2, 0, 1))          # (H, S, S)
    bias = position_bias[None] + jnp.where(mask[:, None, None, :], 0.0, _MASKED)   # (N, H, S, S)

    def layer(x, p):
        h = _rms_norm(x, p["attn_norm"], eps)
        q, k, v = ((h @ p[name]).reshape(n, s, heads, d_kv) for name in ("q", "k", "v"))
        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) + bias
        weights = jax.nn.softmax(scores, axis=-1)
        attended = jnp.einsum("nhqk,nkhd->nqhd", weights, v).reshape(n, s, heads * d_kv)
        x = x + attended @ p["o"]
        h = _rms_norm(x, p["ff_norm"], eps)
        inner = act(h @ p["wi_0"]) * (h @ p["wi_1"]) if config.is_gated else act(h @ p["wi"])
        return x + inner @ p["wo"], None

    x = params["embed"][input_ids]
    x, _ = jax.lax.scan(layer, x, params["layers"])
    return _rms_norm(x, params["final_norm"], eps)


class SentencePieceTokenizer:
    """T5 tokenisation: SentencePiece ids, truncated to max_length − 1, `</s>` appended, `<pad>`-padded."""

    def __init__(self, model_file, max_length: int = 50):
        import sentencepiece as spm

        model_file = Path(model_file)
        if not model_file.is_file():
            raise FileNotFoundError(f"missing SentencePiece model {model_file}")
        self.processor = spm.SentencePieceProcessor(model_file=str(model_file))
        self.eos_id = self.processor.eos_id()
        self.pad_id = max(self.processor.pad_id(), 0)
        if self.eos_id < 0:
            raise ValueError(f"{model_file}: SentencePiece model has no eos piece")
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((len(texts), self.max_length), self.pad_id, np.int32)
        mask = np.zeros((len(texts), self.max_length), bool)
        for row, pieces in enumerate(self.processor.encode(list(texts))):
            tokens = pieces[:self.max_length - 1] + [self.eos_id]
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = True
        return ids, mask


class T5TextEncoder(TextEncoder):
    """A T5 encoder loaded from a HF folder (config.json, model.safetensors, spiece.model)."""

    def __init__(self, folder, max_length: int = 50, name: str | None = None):
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"T5 folder {folder} does not exist")
        self.config = T5EncoderConfig.from_json(folder / "config.json")
        tensors = read_safetensors(folder, keep=lambda k: not k.startswith(("decoder.", "lm_head.")))
        self.params = t5_params_from_tensors(tensors, self.config, source=str(folder))
        self.tokenizer = SentencePieceTokenizer(folder / "spiece.model", max_length)
        folder_name = re.sub(r"[^A-Za-z0-9._+-]", "_", folder.resolve().name)
        self.name = name or (folder_name if folder_name.lower().startswith("t5") else f"t5-{folder_name}")
        self.dim = self.config.d_model
        self.max_length = max_length
        self._jitted = jax.jit(functools.partial(t5_encoder_forward, config=self.config))

    def tokenize(self, texts):
        return self.tokenizer(texts)

    def _forward(self, ids, mask):
        return self._jitted(self.params, jnp.asarray(ids), jnp.asarray(mask))
