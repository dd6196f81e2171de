"""Many generations of different lengths with one compiled program: the benchmarks' sampler.

`sample.make_sampler` samples one timeline (every sample the same length, one compile per
length). A benchmark generates thousands of motions whose lengths all differ, so `BatchSampler`
pads every item to one length `num_frames` and passes each item's valid length to the denoiser
(padding never influences valid frames: docs/CONVENTIONS.md), runs DDIM with classifier-free
guidance exactly as `make_sampler` (the same conditions, text windows, keyframe overwrite and
unconditional branch), and decodes inside the same jitted call as `sample.decode_outputs` does,
with masks over the valid frames (betas mean, rollout, ground lift). One compile serves a whole
test set.

Each item brings its own initial noise (n, 151), so an item's motion depends neither on its
batch mates nor on the padding (tested), and a one-item batch with the noise of
`jax.random.normal(key, (1, n, 151))` equals `make_sampler(...)(state, key)` + `decode_outputs`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax import sample as sample_lib
from genmo_jax import timeline as timeline_lib
from genmo_jax.body import smpl
from genmo_jax.diffusion.sampler import ddim_sample
from genmo_jax.diffusion.schedule import cosine_schedule, ddim_timesteps
from genmo_jax.motion import camera as camera_lib
from genmo_jax.motion.normalization import NormStats, denormalize
from genmo_jax.motion.representation import MOTION_DIM, decode_motion
from genmo_jax.motion.rollout import rollout_world

DEFAULT_IMAGE_SIZE = (1000, 1000)


def item_noise(seed: int, index: int, num_frames: int) -> np.ndarray:
    """The initial noise (num_frames, 151) of item `index`: N(0, I) from jax.random, one key per item."""
    key = jax.random.fold_in(jax.random.key(seed), index)
    return np.asarray(jax.random.normal(key, (1, num_frames, MOTION_DIM), jnp.float32))[0]


def decode_batch(out: dict, length, stats: NormStats, body, clip_std: bool = True) -> dict:
    """`sample.decode_outputs` for a padded batch: world SMPL params and joints (B, L, ...).

    length (B,): valid frames. Betas are averaged over valid frames, the rollout ignores padding,
    and the motion is lifted so that its lowest valid joint touches y = 0. Level static camera.
    """
    x = denormalize(out["x0"], stats, clip_std)
    dec = decode_motion(x)
    batch, num = x.shape[:2]
    valid = (jnp.arange(num)[None, :] < length[:, None]).astype(x.dtype)  # (B, L)
    betas = (dec["betas"] * valid[..., None]).sum(1, keepdims=True) / valid.sum(1)[:, None, None]
    betas = betas * jnp.ones_like(dec["betas"])
    level = np.repeat(sample_lib.LEVEL_CAMERA[None], num, 0)
    cam_angvel = jnp.broadcast_to(camera_lib.cam_angvel_from_R_w2c(level), (batch, num, 6))
    world = rollout_world(dec["global_orient_gv"], dec["global_orient_c"], cam_angvel, dec["local_transl_vel"],
                          length=length)
    joints = smpl.skeleton_forward(body, betas, world["global_orient"], dec["body_pose"], world["transl"])
    height = jnp.where(valid[..., None] > 0, joints[..., 1], jnp.inf)
    up = jnp.array([0.0, 1.0, 0.0])
    lift = -jnp.min(height, axis=(1, 2))[:, None, None]
    return {"joints_w": joints + lift[..., None] * up, "transl_w": world["transl"] + lift * up,
            "global_orient_w": world["global_orient"], "body_pose": dec["body_pose"], "betas": betas}


class BatchSampler:
    """DDIM + CFG generation of padded batches with one compiled program.

    Args:
      exported: `genmo_jax.load_params(DIR)` (model, config, stats).
      body: the body model (`body_model_from_config`).
      num_frames: the padded length L; every item must have n <= L frames.
      batch_size: items per call (the last batch is filled with copies, then dropped).
      ddim_steps, guidance_scale: the test sampler (SPEC B 3: 50 steps, CFG 2.5).
    """

    def __init__(self, exported, body, num_frames: int, batch_size: int, *, ddim_steps: int = 50,
                 guidance_scale: float = 2.5):
        self.config = exported.config
        self.stats = NormStats(mean=jnp.asarray(exported.stats["mean"]), std=jnp.asarray(exported.stats["std"]))
        self.clip_std = bool(self.config.model.get("clip_std", True))
        self.velocity_convention = self.config.model.get("velocity_convention", "gvhmr")
        self.body = body
        self.num_frames = int(num_frames)
        self.batch_size = int(batch_size)
        self.guided = guidance_scale != 1.0
        self.guidance_scale = float(guidance_scale)
        self.intrinsics = timeline_lib.default_intrinsics(*DEFAULT_IMAGE_SIZE)
        # Conditions of a generation without video: no 2D, identity camera, camera flag off.
        base = sample_lib.build_conditions(timeline_lib.Timeline(num_frames=self.num_frames,
                                                                 intrinsics=self.intrinsics))
        self.base_conditions = {k: np.asarray(v[0]) for k, v in base.items()}
        self.graphdef, self.state = nnx.split(exported.model)
        num_timesteps = int(self.config.diffusion.get("num_timesteps", 1000))
        self.timesteps = ddim_timesteps(num_timesteps, int(ddim_steps))
        self.schedule = cosine_schedule(num_timesteps)
        self._run = jax.jit(self._sample_and_decode)

    def _sample_and_decode(self, state, body, stats, x_T, cond, length, text, windows, observed, keymask):
        net = nnx.merge(self.graphdef, state)
        feats = net.embed_conditions(cond, deterministic=True)
        guided = self.guided

        def doubled(a):
            return None if a is None or not guided else jnp.concatenate([a, a], 0)

        f = jnp.concatenate([feats["f_cond"], feats["f_uncond"]], 0) if guided else feats["f_cond"]
        txt = text
        if text is not None and guided:
            txt = jnp.concatenate([text, jnp.zeros_like(text)], 0)  # unconditional branch: no text
        win, obs, mask, lengths = ((doubled(a) if guided else a) for a in (windows, observed, keymask, length))

        def model_fn(x_t, t):
            return net(x_t, t, f, lengths, text=txt, text_windows=win, observed_motion=obs, motion_mask=mask,
                       deterministic=True)

        out = ddim_sample(model_fn, x_T, schedule=self.schedule, timesteps=self.timesteps, eta=0.0,
                          guidance_scale=self.guidance_scale if guided else None)
        return decode_batch(out, length, stats, body, self.clip_std)

    def _keyframes(self, keyframes):
        """{frames (K,), global_orient (K, 3), body_pose (K, 63), optional betas (10,)} -> (L, 151) x2."""
        frames = np.asarray(keyframes["frames"])
        keys = {k: np.asarray(v, np.float32) for k, v in keyframes.items() if k != "frames"}
        tl = timeline_lib.Timeline(num_frames=self.num_frames, intrinsics=self.intrinsics, keyframes=keys,
                                   keyframe_frames=frames)
        observed, mask = sample_lib.keyframe_targets(tl, self.stats, self.clip_std, self.velocity_convention)
        return np.asarray(observed[0]), np.asarray(mask[0])

    def _batch(self, items):
        num = self.num_frames
        lengths = np.array([item["num_frames"] for item in items], np.int32)
        if lengths.max() > num or lengths.min() < 2:
            raise ValueError(f"item lengths must be in 2..{num} frames; got {lengths.min()}..{lengths.max()}")
        x_T = np.zeros((len(items), num, MOTION_DIM), np.float32)
        cond = {k: np.repeat(v[None], len(items), 0) for k, v in self.base_conditions.items()}
        for i, item in enumerate(items):
            noise = np.asarray(item["noise"], np.float32)
            if noise.shape != (item["num_frames"], MOTION_DIM):
                raise ValueError(f"item {i}: noise must be ({item['num_frames']}, {MOTION_DIM}); got {noise.shape}")
            x_T[i, :len(noise)] = noise
        if "music" in items[0]:
            cond["music"] = np.zeros((len(items), num, items[0]["music"].shape[-1]), np.float32)
            cond["has_music"] = np.zeros((len(items), num), bool)
            for i, item in enumerate(items):
                n = item["num_frames"]
                cond["music"][i, :n] = item["music"][:n]
                cond["has_music"][i, :n] = True
        text = windows = observed = keymask = None
        if "text" in items[0]:
            text = np.stack([item["text"] for item in items])[:, None]  # (B, 1, T, D): one caption
            windows = np.stack([[[0, n]] for n in lengths]).astype(np.int32)
        if "keyframes" in items[0]:
            observed, keymask = (np.stack(a) for a in zip(*(self._keyframes(item["keyframes"]) for item in items)))
        return x_T, cond, lengths, text, windows, observed, keymask

    def sample(self, items: list[dict]) -> list[dict]:
        """items: dicts with num_frames n, noise (n, 151) and optionally music (>= n, 35), text
        (T, D) encoder states (padding zeroed) or keyframes (see `_keyframes`); every item of a
        call has the same optional keys. Returns per item {joints_w (n, 24, 3), transl_w,
        global_orient_w, body_pose, betas} (numpy, valid frames only)."""
        results = []
        for start in range(0, len(items), self.batch_size):
            chunk = list(items[start:start + self.batch_size])
            used = len(chunk)
            chunk += [chunk[-1]] * (self.batch_size - used)  # fixed batch shape: one compile
            x_T, cond, lengths, text, windows, observed, keymask = self._batch(chunk)
            out = self._run(self.state, self.body, self.stats, x_T, cond, lengths, text, windows, observed, keymask)
            out = jax.device_get(out)
            for i in range(used):
                n = int(lengths[i])
                results.append({k: np.asarray(v[i, :n]) for k, v in out.items()})
        return results
