"""GEM (the authors' PyTorch release) state dict -> genmo-jax Denoiser variables.

Accepted inputs (SPEC B 7.2):
  * the Lightning checkpoint's `state_dict` of the `GEM` module: condition embedders at the top
    level (`learned_pos_linear`, `learned_pos_params`, `embed_noisyobs`, `cliffcam_embedder`,
    `imgseq_embedder`, `cam_angvel_embedder`, `music_embedder`, `audio_encoder`,
    `audio_embedder`, `cond_exists_embedder.<key>`) and the network under
    `pipeline.denoiser3d.denoiser.`;
  * the network's own state dict (`NetworkEncoderRoPE`, keys such as `blocks.0.attn.query.weight`,
    as in the golden file), for a model built without condition embedders.
Legacy layouts are remapped like the release's `remap_legacy_state_dict`: a `model.` prefix is
stripped; embedder copies under `pipeline.denoiser3d.denoiser.` (the network's unused
duplicates) are used only when the top-level ones are absent, otherwise ignored. Keys of the
motion encoder/decoder, body model and feature extractor, the fixed sinusoid tables
(`*.pe`, checked against ours) and BatchNorm's `num_batches_tracked` carry no weights we need.

Layouts: torch Linear weight (out, in) -> kernel (in, out); packed MHA `in_proj_weight` (3d, d)
-> query/key/value kernels; gates (1, 1, d) -> (d,); LayerNorm weight -> scale; Conv1d weight
(out, in, k) -> kernel (k, in, out); BatchNorm running_mean/var -> mean/var.
Every remaining unknown key, every model variable left unset and every shape mismatch is an
error that lists them.
"""

import re

import numpy as np

from genmo_jax.model import embeddings

NETWORK_PREFIX = "pipeline.denoiser3d.denoiser."
IGNORED_PREFIXES = ("endecoder.", "pipeline.endecoder.", "pipeline.denoiser3d.endecoder.",
                    "body_model", "smplx.", "feature_extractor", "pipeline.body_model")
EMBEDDER_NAMES = ("learned_pos_linear", "learned_pos_params", "embed_noisyobs",
                  "cliffcam_embedder", "cam_angvel_embedder", "imgseq_embedder",
                  "music_embedder", "audio_encoder", "audio_embedder", "cond_exists_embedder")
FIXED_TABLE_TOLERANCE = 1e-4

# (regex on the torch name, our name template, kind); the first match wins
_NETWORK_RULES = [
    (r"blocks\.(\d+)\.gate_(msa|mlp)", "blocks.{0}.gate_{1}", "gate"),
    (r"blocks\.(\d+)\.(norm1|norm2)\.weight", "blocks.{0}.{1}.scale", "copy"),
    (r"blocks\.(\d+)\.(norm1|norm2)\.bias", "blocks.{0}.{1}.bias", "copy"),
    (r"blocks\.(\d+)\.attn\.(query|key|value|proj)\.weight", "blocks.{0}.attn.{1}.kernel", "linear"),
    (r"blocks\.(\d+)\.attn\.(query|key|value|proj)\.bias", "blocks.{0}.attn.{1}.bias", "copy"),
    (r"blocks\.(\d+)\.mlp\.(fc1|fc2)\.weight", "blocks.{0}.mlp.{1}.kernel", "linear"),
    (r"blocks\.(\d+)\.mlp\.(fc1|fc2)\.bias", "blocks.{0}.mlp.{1}.bias", "copy"),
    (r"text_encoder_layers\.(\d+)\.gate_(cross_attn|mlp)", "text_blocks.{0}.gate_{1}", "gate"),
    (r"text_encoder_layers\.(\d+)\.(norm2|norm3)\.weight", "text_blocks.{0}.{1}.scale", "copy"),
    (r"text_encoder_layers\.(\d+)\.(norm2|norm3)\.bias", "text_blocks.{0}.{1}.bias", "copy"),
    (r"text_encoder_layers\.(\d+)\.cross_attn\.in_proj_weight",
     "text_blocks.{0}.cross_attn.{{}}.kernel", "packed_weight"),
    (r"text_encoder_layers\.(\d+)\.cross_attn\.in_proj_bias",
     "text_blocks.{0}.cross_attn.{{}}.bias", "packed_bias"),
    (r"text_encoder_layers\.(\d+)\.cross_attn\.out_proj\.weight",
     "text_blocks.{0}.cross_attn.out.kernel", "linear"),
    (r"text_encoder_layers\.(\d+)\.cross_attn\.out_proj\.bias",
     "text_blocks.{0}.cross_attn.out.bias", "copy"),
    (r"text_encoder_layers\.(\d+)\.mlp\.(fc1|fc2)\.weight", "text_blocks.{0}.mlp.{1}.kernel",
     "linear"),
    (r"text_encoder_layers\.(\d+)\.mlp\.(fc1|fc2)\.bias", "text_blocks.{0}.mlp.{1}.bias", "copy"),
    (r"text_encoder_layers\.(\d+)\.motion_pos_encoder\.pe", None, "table"),
    (r"sequence_pos_encoder\.pe", None, "table"),
    (r"embed_timestep\.time_embed\.0\.weight", "embed_timestep.linear1.kernel", "linear"),
    (r"embed_timestep\.time_embed\.0\.bias", "embed_timestep.linear1.bias", "copy"),
    (r"embed_timestep\.time_embed\.2\.weight", "embed_timestep.linear2.kernel", "linear"),
    (r"embed_timestep\.time_embed\.2\.bias", "embed_timestep.linear2.bias", "copy"),
    (r"(embed_text|add_cond_linear)\.weight", "{0}.kernel", "linear"),
    (r"(embed_text|add_cond_linear)\.bias", "{0}.bias", "copy"),
    (r"(final_layer|pred_cam_head|static_conf_head)\.(fc1|fc2)\.weight", "{0}.{1}.kernel",
     "linear"),
    (r"(final_layer|pred_cam_head|static_conf_head)\.(fc1|fc2)\.bias", "{0}.{1}.bias", "copy"),
    (r"pred_cam_(mean|std)", None, "pred_cam_stat"),
]

_C = "conditions."
_EMBEDDER_RULES = [
    (r"learned_pos_linear\.weight", _C + "learned_pos_linear.kernel", "linear"),
    (r"learned_pos_linear\.bias", _C + "learned_pos_linear.bias", "copy"),
    (r"learned_pos_params", _C + "learned_pos_params", "copy"),
    (r"(embed_noisyobs|music_embedder)\.(fc1|fc2)\.weight", _C + "{0}.{1}.kernel", "linear"),
    (r"(embed_noisyobs|music_embedder)\.(fc1|fc2)\.bias", _C + "{0}.{1}.bias", "copy"),
    (r"(cliffcam_embedder|cam_angvel_embedder)\.0\.weight", _C + "{0}.linear1.kernel", "linear"),
    (r"(cliffcam_embedder|cam_angvel_embedder)\.0\.bias", _C + "{0}.linear1.bias", "copy"),
    (r"(cliffcam_embedder|cam_angvel_embedder)\.3\.weight", _C + "{0}.linear2.kernel", "linear"),
    (r"(cliffcam_embedder|cam_angvel_embedder)\.3\.bias", _C + "{0}.linear2.bias", "copy"),
    (r"(imgseq_embedder|audio_embedder)\.0\.weight", _C + "{0}.norm.scale", "copy"),
    (r"(imgseq_embedder|audio_embedder)\.0\.bias", _C + "{0}.norm.bias", "copy"),
    (r"(imgseq_embedder|audio_embedder)\.1\.weight", _C + "{0}.linear.kernel", "linear"),
    (r"(imgseq_embedder|audio_embedder)\.1\.bias", _C + "{0}.linear.bias", "copy"),
    (r"audio_encoder\.(\d+)\.(conv1|conv2)\.weight", _C + "audio_encoder.{0}.{1}.kernel", "conv"),
    (r"audio_encoder\.(\d+)\.(conv1|conv2)\.bias", _C + "audio_encoder.{0}.{1}.bias", "copy"),
    (r"audio_encoder\.(\d+)\.downsample\.0\.weight", _C + "audio_encoder.{0}.down_conv.kernel",
     "conv"),
    (r"audio_encoder\.(\d+)\.downsample\.0\.bias", _C + "audio_encoder.{0}.down_conv.bias",
     "copy"),
    (r"audio_encoder\.(\d+)\.(bn1|bn2)\.(weight|bias|running_mean|running_var)",
     _C + "audio_encoder.{0}.{1}.{2}", "bn"),
    (r"audio_encoder\.(\d+)\.downsample\.1\.(weight|bias|running_mean|running_var)",
     _C + "audio_encoder.{0}.down_bn.{1}", "bn"),
    (r"audio_encoder\.(\d+)\.(bn1|bn2|downsample\.1)\.num_batches_tracked", None, "skip"),
    (r"cond_exists_embedder\.(\w+)\.0\.weight", _C + "exists_{0}.linear1.kernel", "linear"),
    (r"cond_exists_embedder\.(\w+)\.0\.bias", _C + "exists_{0}.linear1.bias", "copy"),
    (r"cond_exists_embedder\.(\w+)\.2\.weight", _C + "exists_{0}.linear2.kernel", "linear"),
    (r"cond_exists_embedder\.(\w+)\.2\.bias", _C + "exists_{0}.linear2.bias", "copy"),
]
_BN_NAMES = {"weight": "scale", "bias": "bias", "running_mean": "mean", "running_var": "var"}


def remap_legacy(state_dict: dict) -> dict:
    """Strip `model.`, drop ignored prefixes, and resolve the network's embedder duplicates.

    Returns {name: np.ndarray} with top-level embedder names and `pipeline.denoiser3d.denoiser.`
    network names (or bare network names for a network-only state dict).
    """
    out = {}
    for name, value in state_dict.items():
        if name.startswith("model."):
            name = name[len("model."):]
        if name.startswith(IGNORED_PREFIXES):
            continue
        out[name] = np.asarray(value)
    top_level = {n.split(".")[0] for n in out}
    for name in list(out):
        if not name.startswith(NETWORK_PREFIX):
            continue
        rest = name[len(NETWORK_PREFIX):]
        head = rest.split(".")[0]
        if head in EMBEDDER_NAMES:
            value = out.pop(name)
            if head not in top_level:      # legacy: only the network's copy exists
                out.setdefault(rest, value)
    return out


def _apply_rules(name, value, rules, prefix_out=""):
    for pattern, template, kind in rules:
        m = re.fullmatch(pattern, name)
        if m is None:
            continue
        groups = m.groups()
        if kind == "bn":
            groups = groups[:-1] + (_BN_NAMES[groups[-1]],)
        target = None if template is None else prefix_out + template.format(*groups)
        return target, kind
    return None, "unknown"


def _convert_value(kind, value):
    if kind == "linear":
        return value.T
    if kind == "gate":
        return value.reshape(-1)
    if kind == "conv":
        return np.transpose(value, (2, 1, 0))
    return value


def convert_state_dict(state_dict: dict) -> dict:
    """GEM state dict -> {our dot-joined variable name: np.ndarray float32}.

    Raises ValueError listing unknown keys, and if a fixed sinusoid table or the pred_cam
    statistics differ from the ones this code rebuilds.
    """
    from genmo_jax.model import denoiser as denoiser_lib

    remapped = remap_legacy(state_dict)
    network_only = not any(n.startswith(NETWORK_PREFIX) for n in remapped)
    flat, unknown, problems = {}, [], []
    for name, value in sorted(remapped.items()):
        value = np.asarray(value, np.float32)
        if network_only:
            target, kind = _apply_rules(name, value, _NETWORK_RULES)
            if kind == "unknown":
                target, kind = _apply_rules(name, value, _EMBEDDER_RULES)
        elif name.startswith(NETWORK_PREFIX):
            target, kind = _apply_rules(name[len(NETWORK_PREFIX):], value, _NETWORK_RULES)
        else:
            target, kind = _apply_rules(name, value, _EMBEDDER_RULES)
        if kind == "unknown":
            unknown.append(name)
        elif kind == "skip":
            continue
        elif kind == "table":
            table = value.reshape(value.shape[0], -1)
            ours = embeddings.sinusoid_table(table.shape[0], table.shape[1])
            err = float(np.max(np.abs(table - ours)))
            if err > FIXED_TABLE_TOLERANCE:
                problems.append(f"{name} differs from the rebuilt sinusoid table by {err:.3g}")
        elif kind == "pred_cam_stat":
            ref = denoiser_lib.PRED_CAM_MEAN if name.endswith("mean") else denoiser_lib.PRED_CAM_STD
            if not np.allclose(value.reshape(-1), ref, atol=1e-6):
                problems.append(f"{name} = {value.reshape(-1)} differs from {ref}")
        elif kind in ("packed_weight", "packed_bias"):
            for part, chunk in zip(("query", "key", "value"), np.split(value, 3, axis=0)):
                flat[target.format(part)] = chunk.T if kind == "packed_weight" else chunk
        else:
            flat[target] = _convert_value(kind, value)
    if unknown:
        problems.append(f"unknown keys {len(unknown)}: {unknown}")
    if problems:
        raise ValueError("GEM state dict: " + "; ".join(problems))
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in flat.items()}


def load_gem_state_dict(model, state_dict: dict, *, source: str = "GEM state dict") -> None:
    """Convert and write into `model` (a Denoiser) in place; errors list missing/unknown/shape."""
    from genmo_jax import params_io
    params_io.assign_flat(model, convert_state_dict(state_dict), source=source)


def model_config_from_gem(network_cfg: dict, *, window: int = 120, conditions=()):
    """A `c.model` ConfigDict for the release's `NetworkEncoderRoPE` arguments.

    network_cfg: dict with latent_dim, num_layers, num_heads, mlp_ratio, encoded_text_dim,
    text_encoder_cfg {mode, cross_attn_type}, use_text_pos_enc (as in the golden meta_json).
    """
    import ml_collections
    text_cfg = dict(network_cfg.get("text_encoder_cfg", {}))
    mode = text_cfg.get("mode", "first")
    if not network_cfg.get("encode_text", True) and mode != "none":
        mode = "none"
    if mode not in ("all", "none"):
        raise ValueError(f"text_encoder_cfg.mode {mode!r} is not supported (only 'all', 'none')")
    if mode == "all" and text_cfg.get("cross_attn_type", "rope") != "mha":
        raise ValueError("only cross_attn_type 'mha' text blocks are supported, got "
                         f"{text_cfg.get('cross_attn_type', 'rope')!r}")
    m = ml_collections.ConfigDict()
    m.latent_dim = int(network_cfg["latent_dim"])
    m.num_layers = int(network_cfg["num_layers"])
    m.num_heads = int(network_cfg["num_heads"])
    m.mlp_ratio = float(network_cfg.get("mlp_ratio", 4))
    m.dropout = float(network_cfg.get("dropout", 0.1))
    m.attention_window = int(window)
    m.text_blocks = mode == "all"
    m.text_dim = int(network_cfg.get("encoded_text_dim", 1024))
    m.max_text_len = 50
    m.text_pos_enc = bool(network_cfg.get("use_text_pos_enc", True))
    m.conditions = tuple(conditions)
    m.image_feature_dim = 1024
    m.music_dim = 35
    m.velocity_convention = "release"
    return m
