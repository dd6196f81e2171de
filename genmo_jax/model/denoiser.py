"""The GENMO denoiser (GEM `NetworkEncoderRoPE` + the condition embedders of `GEM`), Flax NNX.

Layer order, sizes and initialisation follow SPEC B 2 (A1), so that the release's weights load
(`genmo_jax.model.gem_compat`) and reproduce its outputs (`genmo_jax.model.golden_check`).

Public API (also in docs/CONVENTIONS.md, "## Denoiser API"):

    model = Denoiser(config.model, rngs=nnx.Rngs(params=0, dropout=1))
    feats = model.embed_conditions(cond, deterministic=True)
        # cond: dict of raw conditions (see conditions.ConditionEmbedder), each (B, L, ...);
        # -> {"f_cond", "f_uncond", "f_empty"}, each (B, L, d)
    out = model(x_t, t, f_cond, length, text=None, text_windows=None,
                observed_motion=None, motion_mask=None, deterministic=True)

    x_t (B, L, 151) normalised noisy motion; t (B,) int32 in 0..999 (original index);
    f_cond (B, L, d) one of the fused condition features; length (B,) int32 valid frames;
    text (B, T, Dt) one caption or (B, K, T, Dt) K captions of encoder states (padded tokens
      zero; None = no text = zeros, as the release); text_windows (B, K, 2) int32 frame range
      [start, end) of each caption (None = every caption covers all frames);
    observed_motion, motion_mask (B, L, 151): keyframe overwrite x_t <- x_t (1 - M) + x_obs M
      before the input stem (SPEC B 3.4);
    deterministic=False enables dropout (needs the "dropout" rng stream).
    -> {"x0": (B, L, 151) normalised, betas = their mean over valid frames,
        "pred_cam": (B, L, 3) de-normalised weak-perspective (s >= 0.25, tx, ty),
        "contact_logits": (B, L, 6), "hidden": (B, L, d) final hidden state}.

Models without text blocks (`c.model.text_blocks = False`, the regression size) ignore `text`.
Compute dtype = the dtype of the params: the train step casts its float32 master params to
bfloat16 for `train.compute_dtype = "bfloat16"`, and then every input (conditions, x_t, the
timestep embedding, text) is cast to bfloat16 on entry, so all matmuls and attention run in
bfloat16; RoPE, softmax and LayerNorm statistics stay float32 inside, and the outputs are
float32. The layers are stored one module per layer (a one-to-one mapping onto the release's
per-layer state dict, `gem_compat`) and run as one `lax.scan` over their stacked states
(`scan_layers`), so compile time does not grow with depth; `c.model.remat = True` recomputes
each layer's activations in the backward pass instead of storing them. The train state keeps
the lists named in `stacked_layers` stacked (`train/state.split_model`).

The classifier-free-guidance branch of the release is the same call with f_uncond and the text
multiplied by 0 (which still leaves "bias + position" text keys, exactly as the release).
Condition/text dropout for CFG training is the train step's job (it zeroes text per sample and
passes condition masks), so the network itself has no random behaviour besides dropout.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax.model import attention, conditions, embeddings
from genmo_jax.model.layers import Mlp, torch_linear_init

MOTION_DIM = 151
BETAS = slice(126, 136)
PRED_CAM_MEAN = (1.0606, -0.0027, 0.2702)   # release, gem_denoiser.py
PRED_CAM_STD = (0.1784, 0.0956, 0.0764)
NUM_CONTACTS = 6


def _layer_norm(dim: int, rngs: nnx.Rngs):
    return nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)


def _gate(dim: int):
    # zero-initialised per-channel residual gate: every block starts as the identity
    return nnx.Param(jnp.zeros((dim,), jnp.float32))


class RoPEBlock(nnx.Module):
    """`EncoderRoPEBlock`: h += g_msa * Attn(LN1 h); h += g_mlp * MLP(LN2 h)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, window: int,
                 dropout: float, rngs: nnx.Rngs):
        self.norm1 = _layer_norm(dim, rngs)
        self.attn = attention.RoPESelfAttention(dim, num_heads, window=window, dropout=dropout,
                                                rngs=rngs)
        self.norm2 = _layer_norm(dim, rngs)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim, approximate_gelu=True, dropout=dropout,
                       rngs=rngs)
        self.gate_msa = _gate(dim)
        self.gate_mlp = _gate(dim)

    def __call__(self, h, length, *, deterministic: bool = True):
        h = h + self.gate_msa[...] * self.attn(self.norm1(h), length, deterministic=deterministic)
        return h + self.gate_mlp[...] * self.mlp(self.norm2(h), deterministic=deterministic)


class TextBlock(nnx.Module):
    """`DecoderRoPEBlock(use_self_attn=False, cross_attn_type="mha")`."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, dropout: float,
                 rngs: nnx.Rngs):
        self.norm2 = _layer_norm(dim, rngs)
        self.cross_attn = attention.TextCrossAttention(dim, num_heads, dropout=dropout, rngs=rngs)
        self.norm3 = _layer_norm(dim, rngs)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim, approximate_gelu=True, dropout=dropout,
                       rngs=rngs)
        self.gate_cross_attn = _gate(dim)
        self.gate_mlp = _gate(dim)

    def __call__(self, h, text, windows, *, deterministic: bool = True):
        update = self.cross_attn(self.norm2(h), text, windows, deterministic=deterministic)
        h = h + self.gate_cross_attn[...] * update
        return h + self.gate_mlp[...] * self.mlp(self.norm3(h), deterministic=deterministic)


def scan_layers(layers: list, h, apply, *, remat: bool = False, remat_policy=None,
                update_state: bool = True, unroll: int = 1):
    """h <- apply(layers[i], h) for i = 0..N-1, as one `lax.scan` over the layers' stacked states.

    Args:
      layers: N modules of one structure (e.g. N (text block, RoPE block) tuples).
      h: the carried activations, e.g. (B, L, d).
      apply: (layer, h) -> h, with the layer rebuilt from its slice of the stacked state.
      remat: recompute each layer in the backward pass (`jax.checkpoint`) instead of storing
        its activations.
      remat_policy: with remat, which intermediates to store anyway (a
        `jax.checkpoint_policies` policy, e.g. `dots_with_no_batch_dims_saveable`: the
        projections' and MLP's matmul outputs, so the backward pass recomputes only the cheap
        elementwise work); None stores only each layer's input.
      update_state: write the layers' state after the scan back into them (the dropout RNG
        counters advance, so a second call draws new masks, as an unrolled loop would); False
        for calls that change no state (no dropout), which may then run on closed-over state.
      unroll: layers per scan iteration (`lax.scan(unroll=)`); N gives the unrolled program,
        whose XLA cost analysis counts every layer (it counts a loop body once).
    Returns: the final h.
    """
    graphdef, _ = nnx.split(layers[0])
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *[nnx.state(m) for m in layers])

    def body(carry, state):
        layer = nnx.merge(graphdef, state)
        # Only what a call can change (RNG counters, batch statistics) leaves the loop: stacking
        # the params as outputs too would copy every layer's weights on each call.
        return apply(layer, carry), nnx.state(layer, nnx.Not(nnx.Param))

    if remat:
        body = jax.checkpoint(body, policy=remat_policy)
    h, new_state = jax.lax.scan(body, h, stacked, unroll=unroll)
    for i, layer in enumerate(layers if update_state else ()):
        nnx.update(layer, jax.tree.map(lambda x: x[i], new_state))
    return h


class Denoiser(nnx.Module):
    """The whole GENMO network: condition embedders, input stem, N x (text, RoPE) layers, heads."""

    def __init__(self, model_cfg, *, rngs: nnx.Rngs):
        cfg = model_cfg
        dim = int(cfg.latent_dim)
        self.latent_dim = dim
        self.num_layers = int(cfg.num_layers)
        self.window = int(cfg.get("attention_window", 120))
        self.use_text = bool(cfg.get("text_blocks", False))
        self.max_text_len = int(cfg.get("max_text_len", 50))
        self.use_text_pos_enc = bool(cfg.get("text_pos_enc", True))
        self.remat = bool(cfg.get("remat", False))
        policy = str(cfg.get("remat_policy", ""))
        self.remat_policy = getattr(jax.checkpoint_policies, policy) if policy else None
        self.scan_unroll = int(cfg.get("scan_unroll", 1))
        dropout = float(cfg.get("dropout", 0.1))
        heads, ratio = int(cfg.num_heads), float(cfg.get("mlp_ratio", 4))
        init = torch_linear_init()

        self.conditions = conditions.ConditionEmbedder(cfg, rngs=rngs)
        self.embed_timestep = embeddings.TimestepEmbedder(dim, rngs=rngs)
        self.add_cond_linear = nnx.Linear(MOTION_DIM + dim, dim, kernel_init=init, rngs=rngs)
        if self.use_text:
            self.text_dim = int(cfg.text_dim)
            self.embed_text = nnx.Linear(self.text_dim, dim, kernel_init=init, rngs=rngs)
            self.text_blocks = nnx.List([
                TextBlock(dim, heads, ratio, dropout=dropout, rngs=rngs)
                for _ in range(self.num_layers)])
        self.blocks = nnx.List([
            RoPEBlock(dim, heads, ratio, window=self.window, dropout=dropout, rngs=rngs)
            for _ in range(self.num_layers)])
        # The train state stores these lists stacked (train/state.split_model).
        self.stacked_layers = ("text_blocks", "blocks") if self.use_text else ("blocks",)
        self.final_layer = Mlp(dim, dim, MOTION_DIM, approximate_gelu=False, rngs=rngs)
        self.pred_cam_head = Mlp(dim, dim, 3, approximate_gelu=False, rngs=rngs)
        self.static_conf_head = Mlp(dim, dim, NUM_CONTACTS, approximate_gelu=False, rngs=rngs)
        # the pred_cam head's de-normalisation (the release's constants by default)
        self.pred_cam_mean = tuple(float(v) for v in cfg.get("pred_cam_mean", PRED_CAM_MEAN))
        self.pred_cam_std = tuple(float(v) for v in cfg.get("pred_cam_std", PRED_CAM_STD))

    def embed_conditions(self, cond: dict, *, deterministic: bool = True) -> dict:
        """Raw conditions -> {"f_cond", "f_uncond", "f_empty"} (B, L, d); see conditions.py."""
        return self.conditions(cond, deterministic=deterministic)

    def _embed_text(self, text, num_frames: int, text_windows):
        """-> (B, K, T, d) embedded tokens and (B, K, 2) int windows."""
        if text.ndim == 3:
            text = text[:, None]
        if text.ndim != 4 or text.shape[-1] != self.text_dim:
            raise ValueError(f"text must be (B, T, {self.text_dim}) or (B, K, T, {self.text_dim}),"
                             f" got {text.shape}")
        tokens = self.embed_text(text)
        if self.use_text_pos_enc:
            tokens = tokens + jnp.asarray(embeddings.sinusoid_table(text.shape[2], self.latent_dim))
        if text_windows is None:
            text_windows = jnp.broadcast_to(jnp.asarray([0, num_frames], jnp.int32),
                                            text.shape[:2] + (2,))
        elif text_windows.shape != text.shape[:2] + (2,):
            raise ValueError(f"text_windows must be {text.shape[:2] + (2,)}, got "
                             f"{text_windows.shape}")
        return tokens, jnp.asarray(text_windows, jnp.int32)

    def __call__(self, x_t, t, f_cond, length, *, text=None, text_windows=None,
                 observed_motion=None, motion_mask=None, deterministic: bool = True) -> dict:
        batch, num_frames, _ = x_t.shape
        if x_t.shape[-1] != MOTION_DIM or f_cond.shape != (batch, num_frames, self.latent_dim):
            raise ValueError(f"x_t must be (B, L, {MOTION_DIM}) and f_cond (B, L, "
                             f"{self.latent_dim}); got {x_t.shape} and {f_cond.shape}")
        length = jnp.asarray(length, jnp.int32)
        if motion_mask is not None:
            x_t = x_t * (1.0 - motion_mask) + observed_motion * motion_mask
        # Compute in the dtype the params come in (a bfloat16 cast of the params gives a
        # bfloat16 network; softmax, RoPE and LayerNorm statistics stay float32 inside).
        dtype = self.add_cond_linear.kernel[...].dtype
        temb = self.embed_timestep(jnp.asarray(t), dtype=dtype)[:, None, :]  # (B, 1, d)
        stem_in = jnp.concatenate([f_cond.astype(dtype) + temb, x_t.astype(dtype)], axis=-1)
        h = self.add_cond_linear(stem_in)

        if self.use_text:
            if text is None:
                text = jnp.zeros((batch, self.max_text_len, self.text_dim), x_t.dtype)
            tokens, windows = self._embed_text(text.astype(dtype), num_frames, text_windows)
            tokens = tokens.astype(dtype)
        if self.use_text:
            def layer_fn(layer, h):
                text_block, block = layer
                h = text_block(h, tokens, windows, deterministic=deterministic)
                return block(h, length, deterministic=deterministic)
            layers = [(self.text_blocks[i], self.blocks[i]) for i in range(self.num_layers)]
        else:
            def layer_fn(block, h):
                return block(h, length, deterministic=deterministic)
            layers = list(self.blocks)
        h = scan_layers(layers, h, layer_fn, remat=self.remat, remat_policy=self.remat_policy,
                        update_state=not deterministic, unroll=self.scan_unroll)

        x0 = self.final_layer(h).astype(jnp.float32)
        valid = (jnp.arange(num_frames)[None, :] < length[:, None]).astype(x0.dtype)[..., None]
        # masked mean over valid frames (a sample with length 0 gets 0, not NaN)
        count = jnp.maximum(length, 1).astype(x0.dtype)[:, None, None]
        betas = (x0[..., BETAS] * valid).sum(axis=1, keepdims=True) / count
        x0 = jnp.concatenate([x0[..., :BETAS.start],
                              jnp.broadcast_to(betas, (batch, num_frames, 10)),
                              x0[..., BETAS.stop:]], axis=-1)
        cam = self.pred_cam_head(h).astype(jnp.float32) * np.asarray(self.pred_cam_std, np.float32) \
            + np.asarray(self.pred_cam_mean, np.float32)
        cam = jnp.concatenate([jnp.maximum(cam[..., :1], 0.25), cam[..., 1:]], axis=-1)
        return {"x0": x0, "pred_cam": cam,
                "contact_logits": self.static_conf_head(h).astype(jnp.float32),
                "hidden": h.astype(jnp.float32)}
