"""Per-condition embedders, exists-flag MLPs and summed fusion (SPEC B 2.2; GEM `gem.py`).

Raw condition dict (every entry optional; B batch, L frames):
  "obs"        (B, L, 17, 3) COCO-17 keypoints, bbox-normalised xy in [-1, 1] and a confidence;
               a joint is visible when confidence > 0.5 (invisible joints use learned vectors).
  "f_cliffcam" (B, L, 3) bbox info ((cx_b - cx)/f, (cy_b - cy)/f, b/f); flag "has_2d".
  "f_imgseq"   (B, L, 1024) image features; flag "has_img".
  "cam_angvel" (B, L, 6) raw 6D of R_w2c[t+1] R_w2c[t]^T (normalised here with the release's
               manual statistics); flag "has_cam".
  "music"      (B, L, 35) music features; flag "has_music".
  "audio"      (B, L * 600) raw 18 kHz waveform; flag "has_audio".
Flags are (B, L) bool/0-1 per-frame existence masks; a missing flag defaults to all-present when
its feature is given and all-absent otherwise (a missing feature is zeros).

Every key except "obs": e = embedder(x) * m, then e <- MLP([e, m]) (Linear(d+1, d) . SiLU .
zero-init Linear(d, d)), which REPLACES e. The outputs are summed:
  f_cond   real flags;
  f_uncond music and audio removed (features and flags 0), everything else as f_cond (CFG);
  f_empty  every flag 0 and all keypoints invisible.
With the zero-initialised last layers only "obs" contributes at initialisation.

Compute dtype: the embedders run in the dtype of their parameters (the train step casts them to
bfloat16 for `train.compute_dtype = "bfloat16"`): raw features and flags are cast to it on entry
(so no float32 input promotes a bfloat16 matmul back to float32), and the fused features come
out in it. LayerNorm statistics are float32 inside flax whatever the dtype.

The audio encoder's BatchNorm uses batch statistics and updates its running averages when
deterministic=False (training) and the running averages otherwise (evaluation), like
torch's train()/eval(); the statistics live in nnx.BatchStat variables.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax.model.layers import Mlp, torch_linear_init

NUM_KEYPOINTS = 17
KEYPOINT_FEATURES = 32
CAM_ANGVEL_MEAN = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)      # release stats_compose.cam_angvel["manual"]
CAM_ANGVEL_STD = (0.001, 0.1, 0.1, 0.1, 0.001, 0.1)
AUDIO_SAMPLES_PER_FRAME = 600
AUDIO_FEATURES = 128
# (in, out, stride) of the six conv blocks, kernel 15: total stride 5*6*1*5*1*4 = 600
AUDIO_BLOCKS = ((1, 32, 5), (32, 32, 6), (32, 32, 1), (32, 64, 5), (64, 64, 1), (64, 128, 4))
AUDIO_KERNEL = 15

# condition key -> (feature key in the raw dict, flag key)
FLAGGED = {
    "f_cliffcam": ("f_cliffcam", "has_2d"),
    "f_imgseq": ("f_imgseq", "has_img"),
    "f_cam_angvel": ("cam_angvel", "has_cam"),
    "encoded_music": ("music", "has_music"),
    "encoded_audio": ("audio", "has_audio"),
}
UNCOND_DROPPED = ("encoded_music", "encoded_audio")
KNOWN = ("obs",) + tuple(FLAGGED)


def normalize_cam_angvel(cam_angvel):
    """(..., 6) raw camera angular velocity 6D -> normalised with the release's manual stats."""
    return (cam_angvel - np.asarray(CAM_ANGVEL_MEAN, np.float32)) / np.asarray(CAM_ANGVEL_STD,
                                                                              np.float32)


def _zero_linear(in_dim, out_dim, rngs):
    return nnx.Linear(in_dim, out_dim, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)


def _linear(in_dim, out_dim, rngs):
    return nnx.Linear(in_dim, out_dim, kernel_init=torch_linear_init(), rngs=rngs)


class TwoLayerEmbedder(nnx.Module):
    """Linear(in, d) . SiLU . Dropout . zero-init Linear(d, d) (bbox info, camera)."""

    def __init__(self, in_dim, dim, *, dropout, rngs):
        self.linear1 = _linear(in_dim, dim, rngs)
        self.linear2 = _zero_linear(dim, dim, rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x, *, deterministic=True):
        return self.linear2(self.dropout(nnx.silu(self.linear1(x)), deterministic=deterministic))


class NormEmbedder(nnx.Module):
    """LayerNorm(in) . zero-init Linear(in, d) (image features, audio features)."""

    def __init__(self, in_dim, dim, *, rngs):
        self.norm = nnx.LayerNorm(in_dim, epsilon=1e-5, rngs=rngs)
        self.linear = _zero_linear(in_dim, dim, rngs)

    def __call__(self, x, *, deterministic=True):
        del deterministic
        return self.linear(self.norm(x))


class ExistsEmbedder(nnx.Module):
    """Linear(d + 1, d) . SiLU . zero-init Linear(d, d) on [feature, flag]."""

    def __init__(self, dim, *, rngs):
        self.linear1 = _linear(dim + 1, dim, rngs)
        self.linear2 = _zero_linear(dim, dim, rngs)

    def __call__(self, feature, flag):
        return self.linear2(nnx.silu(self.linear1(jnp.concatenate([feature, flag], axis=-1))))


class AudioBlock(nnx.Module):
    """Residual 1-D conv block: conv . BN . LeakyReLU . dropout . conv . BN (+ strided conv . BN
    shortcut when the shape changes) . LeakyReLU. Channels-last (B, N, C)."""

    def __init__(self, in_ch, out_ch, stride, *, dropout, rngs):
        pad = [(AUDIO_KERNEL // 2, AUDIO_KERNEL // 2)]
        conv = dict(kernel_size=(AUDIO_KERNEL,), padding=pad, rngs=rngs)
        bn = dict(momentum=0.9, epsilon=1e-5, rngs=rngs)   # torch momentum 0.1
        self.conv1 = nnx.Conv(in_ch, out_ch, strides=(stride,), **conv)
        self.bn1 = nnx.BatchNorm(out_ch, **bn)
        self.conv2 = nnx.Conv(out_ch, out_ch, strides=(1,), **conv)
        self.bn2 = nnx.BatchNorm(out_ch, **bn)
        self.has_downsample = stride != 1 or in_ch != out_ch
        if self.has_downsample:
            self.down_conv = nnx.Conv(in_ch, out_ch, strides=(stride,), **conv)
            self.down_bn = nnx.BatchNorm(out_ch, **bn)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x, *, deterministic=True):
        shortcut = x
        y = nnx.leaky_relu(self.bn1(self.conv1(x), use_running_average=deterministic), 0.01)
        y = self.dropout(y, deterministic=deterministic)
        y = self.bn2(self.conv2(y), use_running_average=deterministic)
        if self.has_downsample:
            shortcut = self.down_bn(self.down_conv(x), use_running_average=deterministic)
        return nnx.leaky_relu(y + shortcut, 0.01)


class ConditionEmbedder(nnx.Module):
    """All condition embedders of the configured keys (`model_cfg.conditions`)."""

    def __init__(self, model_cfg, *, rngs: nnx.Rngs):
        dim = int(model_cfg.latent_dim)
        dropout = float(model_cfg.get("dropout", 0.1))
        self.keys = tuple(model_cfg.get("conditions", ("obs",)))
        unknown = [k for k in self.keys if k not in KNOWN]
        if unknown:
            raise ValueError(f"model.conditions has unknown keys {unknown}; known: {KNOWN}")
        self.latent_dim = dim
        if "obs" in self.keys:
            self.learned_pos_linear = _linear(2, KEYPOINT_FEATURES, rngs)
            self.learned_pos_params = nnx.Param(
                nnx.initializers.normal(1.0)(rngs.params(), (NUM_KEYPOINTS, KEYPOINT_FEATURES)))
            self.embed_noisyobs = Mlp(NUM_KEYPOINTS * KEYPOINT_FEATURES, 2 * dim, dim,
                                      approximate_gelu=False, dropout=dropout, rngs=rngs)
        if "f_cliffcam" in self.keys:
            self.cliffcam_embedder = TwoLayerEmbedder(3, dim, dropout=dropout, rngs=rngs)
        if "f_imgseq" in self.keys:
            self.imgseq_embedder = NormEmbedder(int(model_cfg.get("image_feature_dim", 1024)),
                                                dim, rngs=rngs)
        if "f_cam_angvel" in self.keys:
            self.cam_angvel_embedder = TwoLayerEmbedder(6, dim, dropout=dropout, rngs=rngs)
        if "encoded_music" in self.keys:
            self.music_embedder = Mlp(int(model_cfg.get("music_dim", 35)), 2 * dim, dim,
                                      approximate_gelu=False, dropout=dropout, rngs=rngs)
        if "encoded_audio" in self.keys:
            self.audio_encoder = nnx.List([
                AudioBlock(i, o, s, dropout=dropout, rngs=rngs) for i, o, s in AUDIO_BLOCKS])
            self.audio_embedder = NormEmbedder(AUDIO_FEATURES, dim, rngs=rngs)
        for key in self.keys:
            if key in FLAGGED:
                setattr(self, f"exists_{key}", ExistsEmbedder(dim, rngs=rngs))

    def _embed_obs(self, obs, deterministic):
        """(B, L, 17, 3) -> (B, L, d); also the all-invisible embedding (1, 1, d)."""
        if obs.shape[-2:] != (NUM_KEYPOINTS, 3):
            raise ValueError(f"cond['obs'] must be (B, L, 17, 3), got {obs.shape}")
        visible = (obs[..., 2:3] > 0.5).astype(obs.dtype)
        per_joint = self.learned_pos_linear(obs[..., :2] * visible)
        per_joint = per_joint * visible + self.learned_pos_params[...] * (1.0 - visible)
        flat = per_joint.reshape(obs.shape[:2] + (-1,))
        empty = self.learned_pos_params[...].reshape(1, 1, -1)
        return (self.embed_noisyobs(flat, deterministic=deterministic),
                self.embed_noisyobs(empty, deterministic=deterministic))

    def _embed_audio(self, audio, num_frames, deterministic):
        if audio.ndim != 2 or audio.shape[1] != num_frames * AUDIO_SAMPLES_PER_FRAME:
            raise ValueError(f"cond['audio'] must be (B, L * {AUDIO_SAMPLES_PER_FRAME}) = "
                             f"(B, {num_frames * AUDIO_SAMPLES_PER_FRAME}), got {audio.shape}")
        dtype = audio.dtype
        x = audio[..., None]
        for block in self.audio_encoder:
            # BatchNorm statistics are float32 (not Params, never cast): back to the compute dtype
            x = block(x, deterministic=deterministic).astype(dtype)
        return self.audio_embedder(x)                                          # (B, L, d)

    def compute_dtype(self):
        """The dtype of the parameters (float32, or bfloat16 when the step cast them)."""
        return jax.tree.leaves(nnx.state(self, nnx.Param))[0].dtype

    def __call__(self, cond: dict, *, deterministic: bool = True) -> dict:
        """Raw conditions -> {"f_cond", "f_uncond", "f_empty"}, each (B, L, d) in the
        parameters' dtype."""
        shapes = [np.shape(v)[:2] for k, v in cond.items() if k in ("obs", "f_cliffcam",
                  "f_imgseq", "cam_angvel", "music")]
        if not shapes:
            raise ValueError("cond needs at least one per-frame feature (obs, f_cliffcam, "
                             "f_imgseq, cam_angvel or music) to know (B, L)")
        batch, num_frames = shapes[0]
        dtype = self.compute_dtype()
        zeros = jnp.zeros((batch, num_frames, self.latent_dim), dtype)
        f_cond, f_uncond, f_empty = zeros, zeros, zeros
        if "obs" in self.keys:
            obs = cond.get("obs")
            if obs is None:
                obs = jnp.zeros((batch, num_frames, NUM_KEYPOINTS, 3), dtype)
            e_obs, e_empty = self._embed_obs(jnp.asarray(obs, dtype), deterministic)
            f_cond, f_uncond, f_empty = f_cond + e_obs, f_uncond + e_obs, f_empty + e_empty
        for key in self.keys:
            if key == "obs":
                continue
            feature_key, flag_key = FLAGGED[key]
            feature = cond.get(feature_key)
            flag = cond.get(flag_key)
            if flag is None:
                flag = jnp.full((batch, num_frames), feature is not None)
            flag = jnp.asarray(flag, dtype)[..., None]                         # (B, L, 1)
            if feature is None:
                embedded = zeros
            else:
                # cam_angvel is normalised in float32 first (its std is 0.001 on two dims)
                feature = (normalize_cam_angvel(jnp.asarray(feature, jnp.float32))
                           if key == "f_cam_angvel" else feature)
                feature = jnp.asarray(feature, dtype)
                if key == "f_cliffcam":
                    embedded = self.cliffcam_embedder(feature, deterministic=deterministic)
                elif key == "f_imgseq":
                    embedded = self.imgseq_embedder(feature)
                elif key == "f_cam_angvel":
                    embedded = self.cam_angvel_embedder(feature, deterministic=deterministic)
                elif key == "encoded_music":
                    embedded = self.music_embedder(feature, deterministic=deterministic)
                else:
                    embedded = self._embed_audio(feature, num_frames, deterministic)
            exists = getattr(self, f"exists_{key}")
            with_flag = exists(embedded * flag, flag)
            absent = exists(zeros, jnp.zeros_like(flag))
            f_cond = f_cond + with_flag
            f_uncond = f_uncond + (absent if key in UNCOND_DROPPED else with_flag)
            f_empty = f_empty + absent
        return {"f_cond": f_cond, "f_uncond": f_uncond, "f_empty": f_empty}
