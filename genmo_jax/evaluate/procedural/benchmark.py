"""Runs an exported model on the procedural benchmark's held-out clips and scores it.

Four tasks, each a table (JSON + Markdown, `report.write_report`) with reference rows computed on
the same clips:
- estimation: one estimation pass (x_t = 0, t = 999) from simulated 2D keypoints, bbox and, by
  default, the camera's angular velocity (`camera_condition`); no image features. Camera-frame
  MPJPE, PA-MPJPE, PVE (open-body vertices), Accel; world-frame WA-/W-MPJPE100, RTE, Jitter from
  the rollout with the GT camera rotations ("GT extrinsics"), foot sliding on the ankle and toe
  joints (7, 10, 8, 11; the metric's SMPL foot vertices do not exist on the open body).
  Reference rows: "procedural GT" (its own Jitter and foot sliding) and "mean motion" (the
  statistics' mean vector at every frame: a model that ignores its input).
- text: guided DDIM from each held-out caption alone (no 2D, no camera) at the clip's length;
  R-precision (groups of 32), FID, MM-Dist, Diversity, MultiModality in the embedding space of the
  retrieval evaluator (`retrieval.py`), replicated over shuffles (`report.score_text`).
  Reference rows: "procedural GT" (real motions vs their captions; FID of a second, independent
  real set) and "random real motions" (that second set in random order: chance R-precision).
- music: guided DDIM from the music features of each held-out dance (no text), at its length;
  BAS (Bailando variant, music beats = the exact beats the synthetic music was built on), PFC,
  FID_k/FID_g/Div_k/Div_g against the held-out real dances. Reference rows: "procedural GT" (a
  second real set scored against the first) and "real dances, other music" (the same dances with
  another clip's beats: BAS at chance alignment).
- in-betweening: 2 and 5 keyframes (`generation.inbetween_keyframes`) of world pose and root
  orientation (no translation, as `sample.keyframe_targets`), S noise samples per clip,
  keyframe PA-/WA-MPJPE min over samples. Reference rows: "mean motion" (keys ignored) and
  "keys pasted into the mean motion" (x = keyframe values at the keys, the mean elsewhere).
Every generated motion is decoded as `sample.decode_outputs` does: rollout seen by a level static
camera, FK of the open body (world y-up metres, 30 fps).
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax import sample as sample_lib
from genmo_jax import timeline as timeline_lib
from genmo_jax.body import smpl
from genmo_jax.diffusion.sampler import ddim_sample, estimate
from genmo_jax.diffusion.schedule import cosine_schedule, ddim_timesteps
from genmo_jax.evaluate import benchmarks, estimation, generation, report, text_metrics
from genmo_jax.evaluate.frames import frame_mean
from genmo_jax.evaluate.procedural import heldout, retrieval
from genmo_jax.motion.normalization import NormStats, denormalize
from genmo_jax.motion.representation import MOTION_DIM, decode_motion
from genmo_jax.motion.rollout import rollout_world

FOOT_JOINTS = (7, 10, 8, 11)            # L_ankle, L_foot, R_ankle, R_foot
IDENTITY_6D = np.array([1, 0, 0, 0, 1, 0], np.float32)
CHUNK = 64                              # rows per sampler call (one compile per task shape)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much of the benchmark to run (`settings_for`)."""

    text_clips: int = 256
    mm_prompts: int = 16
    mm_samples: int = 10
    estimation_clips: int = 64
    dance_clips: int = 16
    inbetween_clips: int = 32
    inbetween_samples: int = 5
    ddim_steps: int = 50
    guidance_scale: float = 2.5
    replications: int = 20
    length: int = 120
    dance_frames: int = 0               # dances cut to this many frames (0 = whole dances, 9-15 s)
    camera_condition: bool = True
    seed: int = 0


def settings_for(clips: int | None = None, quick: bool = False, **overrides) -> Settings:
    """Full (default 64 base clips: 256 captions, 64 estimation, 16 dances, 32 in-betweening),
    or `quick` (a smoke test: a few clips, 2 DDIM steps). `clips` scales every task."""
    if quick:
        base = clips or 4
        s = Settings(text_clips=32, mm_prompts=2, mm_samples=2, estimation_clips=base, dance_clips=2,
                     inbetween_clips=2, inbetween_samples=2, ddim_steps=2, replications=2, length=64,
                     dance_frames=64)
    else:
        base = clips or 64
        if base < 8:
            raise ValueError(f"--clips must be >= 8 without --quick (R-precision needs 32 captions), got {base}")
        s = Settings(text_clips=max(32, 32 * round(4 * base / 32)), estimation_clips=base,
                     dance_clips=max(2, base // 4), inbetween_clips=max(2, base // 2),
                     mm_prompts=min(16, max(2, base // 4)))
    return dataclasses.replace(s, **overrides)


# ------------------------------------------------------------------------------ sampling

class ModelRunner:
    """An exported model as batched, jitted samplers and decoders (numpy in, numpy out)."""

    def __init__(self, exported, body):
        self.config = exported.config
        self.stats = NormStats(mean=jnp.asarray(exported.stats["mean"]), std=jnp.asarray(exported.stats["std"]))
        self.clip_std = bool(self.config.model.get("clip_std", True))
        self.velocity_convention = str(self.config.model.get("velocity_convention", "gvhmr"))
        self.num_timesteps = int(self.config.diffusion.get("num_timesteps", 1000))
        self.graphdef, self.state = nnx.split(exported.model)
        self.body = body
        self._text_encoder = None
        self._fns = {}

    def uses_default_minilm(self):
        text = self.config.get("text", {})
        return text.get("encoder", "minilm") == "minilm" and not text.get("path", "") and not text.get("cache_dir", "")

    def text_encoder(self):
        if self._text_encoder is None:
            from genmo_jax.model.text import load_text_encoder
            self._text_encoder = load_text_encoder(self.config.text)
            if self._text_encoder is None:
                raise ValueError("the model was trained without a text encoder (text.encoder = none)")
        return self._text_encoder

    def encode_texts(self, captions):
        """(N, T, D) masked encoder states of the model's own text encoder."""
        states, mask = self.text_encoder().encode(list(captions))
        return np.asarray(states, np.float32) * np.asarray(mask, np.float32)[..., None]

    def _sampler(self, steps, guidance, estimation_mode):
        key = (steps, guidance, estimation_mode)
        if key in self._fns:
            return self._fns[key]
        graphdef = self.graphdef
        schedule = cosine_schedule(self.num_timesteps)
        timesteps = None if estimation_mode else ddim_timesteps(self.num_timesteps, steps)

        @jax.jit
        def run(state, cond, text, observed, keymask, length, rng):
            net = nnx.merge(graphdef, state)
            feats = net.embed_conditions(cond, deterministic=True)
            guided = guidance is not None
            f = jnp.concatenate([feats["f_cond"], feats["f_uncond"]]) if guided else feats["f_cond"]

            def doubled(a, blank=False):
                if a is None or not guided:
                    return a
                return jnp.concatenate([a, jnp.zeros_like(a) if blank else a])

            txt, obs_m, key_m, lens = doubled(text, blank=True), doubled(observed), doubled(keymask), doubled(length)

            def model_fn(x_t, t):
                out = net(x_t, t, f, lens, text=txt, observed_motion=obs_m, motion_mask=key_m, deterministic=True)
                return {"x0": out["x0"], "pred_cam": out["pred_cam"]}

            shape = (length.shape[0], feats["f_cond"].shape[1], MOTION_DIM)
            if estimation_mode:
                return estimate(model_fn, shape, num_timesteps=self.num_timesteps)
            return ddim_sample(model_fn, jax.random.normal(rng, shape, jnp.float32), schedule=schedule,
                               timesteps=timesteps, guidance_scale=guidance)

        self._fns[key] = run
        return run

    def sample(self, cond, length, *, text=None, observed=None, keymask=None, steps=50, guidance=None,
               estimation_mode=False, seed=0):
        """Normalised x0 (N, L, 151) for N rows, in chunks of min(N, CHUNK) rows (each its own noise
        key; the last chunk is padded to full size, so one compile serves them all)."""
        run = self._sampler(steps, guidance, estimation_mode)
        rows = len(length)
        size = min(rows, CHUNK)
        outputs = []
        for i in range(0, rows, size):
            index = np.minimum(np.arange(i, i + size), rows - 1)      # padding repeats the last row
            pick = lambda a: None if a is None else jnp.asarray(np.asarray(a)[index])
            out = run(self.state, {k: pick(v) for k, v in cond.items()}, pick(text), pick(observed),
                      pick(keymask), pick(length), jax.random.fold_in(jax.random.key(seed), i))
            outputs.append(np.asarray(out["x0"])[:min(size, rows - i)])
        return np.concatenate(outputs)

    def decode(self, x0_norm, length, cam_angvel=None, lift=True, camera=False):
        """x0 (N, L, 151) normalised -> {"joints_w" (N, L, 24, 3) GV0 world, "betas", "body_pose"}
        and with `camera` "joints_c" (N, L, 24, 3), "vertices_c" (N, L, V, 3): camera frame without
        translation.
        cam_angvel (N, L, 6): the camera the rollout follows (default: level static camera);
        lift: shift the world so that the lowest valid joint touches y = 0 (as `sample`)."""
        if cam_angvel is None:
            cam_angvel = np.broadcast_to(IDENTITY_6D, x0_norm.shape[:2] + (6,))
        # rows padded to a multiple of CHUNK: every task with the same length shares one compile
        rows = len(length)
        padded = -(-rows // CHUNK) * CHUNK
        pad = lambda a: np.concatenate([a, np.repeat(np.asarray(a)[-1:], padded - rows, 0)])
        out = _decode(jnp.asarray(pad(x0_norm)), jnp.asarray(pad(length)), jnp.asarray(pad(cam_angvel)),
                      jnp.asarray(lift), self.stats, self.body, self.clip_std, camera)
        return {k: np.asarray(v)[:rows] for k, v in out.items()}


@functools.partial(jax.jit, static_argnames=("clip_std", "camera"))
def _decode(x0_norm, length, cam_angvel, lift, stats, body, clip_std, camera):
    dec = decode_motion(denormalize(x0_norm, stats, clip_std))
    world = rollout_world(dec["global_orient_gv"], dec["global_orient_c"], cam_angvel, dec["local_transl_vel"],
                          length=length)
    joints_w = smpl.skeleton_forward(body, dec["betas"], world["global_orient"], dec["body_pose"], world["transl"])
    joints_w = jnp.where(lift, _lift(joints_w, length), joints_w)
    out = {"joints_w": joints_w, "betas": dec["betas"], "body_pose": dec["body_pose"]}
    if camera:
        points = smpl.forward(body, dec["betas"], dec["global_orient_c"], dec["body_pose"], jnp.zeros_like(world["transl"]))
        out.update(joints_c=points["joints"][..., :24, :], vertices_c=points["vertices"])
    return out


def _lift(joints, length):
    valid = jnp.arange(joints.shape[1])[None] < length[:, None]
    lowest = jnp.min(jnp.where(valid[..., None], joints[..., 1], jnp.inf), axis=(1, 2))
    return joints - lowest[:, None, None, None] * jnp.array([0.0, 1.0, 0.0])


@jax.jit
def _gt_points(body, betas, global_orient, body_pose, transl):
    out = smpl.forward(body, betas, global_orient, body_pose, transl)
    return out["joints"][..., :24, :], out["vertices"]


def _empty_conditions(num, length, music=None):
    """Text / music / keyframe rows: no 2D, no camera, no image (the generation-mode inputs)."""
    cond = {"obs": np.zeros((num, length, 17, 3), np.float32), "has_2d": np.zeros((num, length), bool),
            "f_cliffcam": np.zeros((num, length, 3), np.float32),
            "cam_angvel": np.broadcast_to(IDENTITY_6D, (num, length, 6)).copy(),
            "has_cam": np.zeros((num, length), bool)}
    if music is not None:
        cond["music"], cond["has_music"] = music
    return cond


def _with_references(name, refs, source):
    return dataclasses.replace(PROCEDURAL[name], references=refs, source=source)


ESTIMATION_COLUMNS = benchmarks.CAMERA_COLUMNS + benchmarks.WORLD_COLUMNS
TEXT_COLUMNS = benchmarks.TEXT_COLUMNS + (benchmarks.Column("multimodality", "MultiModality", "higher"),)
PROCEDURAL = {
    "procedural_estimation": benchmarks.Benchmark(
        "procedural_estimation", "estimation",
        "Procedural world (held out): estimation from simulated 2D keypoints, camera + world frame, 24 joints",
        ESTIMATION_COLUMNS, {}, "", camera=True, world=True),
    "procedural_text": benchmarks.Benchmark(
        "procedural_text", "text", "Procedural world (held out): text-to-motion, procedural retrieval evaluator",
        TEXT_COLUMNS, {}, ""),
    "procedural_music": benchmarks.Benchmark(
        "procedural_music", "music", "Procedural world (held out): music-to-dance, synthetic music",
        benchmarks.MUSIC_COLUMNS, {}, ""),
    "procedural_inbetween2": benchmarks.Benchmark(
        "procedural_inbetween2", "inbetween", "Procedural world (held out): in-betweening, 2 keyframes (min over samples)",
        benchmarks.INBETWEEN_COLUMNS, {}, ""),
    "procedural_inbetween5": benchmarks.Benchmark(
        "procedural_inbetween5", "inbetween", "Procedural world (held out): in-betweening, 5 keyframes (min over samples)",
        benchmarks.INBETWEEN_COLUMNS, {}, ""),
}
ROWS_SOURCE = "computed on the same held-out clips"


# ----------------------------------------------------------------------------- estimation

def _estimation_scores(pred_c, pred_vc, pred_w, gt_c, gt_vc, gt_w, mask):
    seqs = [{"pred_joints": pred_c[i], "gt_joints": gt_c[i], "pred_vertices": pred_vc[i], "gt_vertices": gt_vc[i],
             "pred_joints_world": pred_w[i], "gt_joints_world": gt_w[i], "mask": mask[i]} for i in range(len(mask))]
    out = report.score_estimation(seqs, PROCEDURAL["procedural_estimation"])
    feet = list(FOOT_JOINTS)
    out["fs"] = frame_mean([estimation.foot_sliding(pred_w[..., feet, :], gt_w[..., feet, :], mask)])
    return out


def run_estimation(runner: ModelRunner, skeleton, s: Settings, log=print):
    data = heldout.estimation_samples(skeleton, s.estimation_clips, length=s.length)
    mask, length = data["valid"], data["length"].astype(np.int32)
    gt_c, gt_vc = map(np.asarray, _gt_points(runner.body, data["betas"], data["global_orient_c"], data["body_pose"],
                                             np.zeros_like(data["transl_c"])))
    gt_w, _ = map(np.asarray, _gt_points(runner.body, data["betas"], data["global_orient_w"], data["body_pose"],
                                         data["transl_w"]))
    cond = {"obs": data["obs"], "has_2d": data["has_2d_mask"], "f_cliffcam": data["f_cliffcam"],
            "cam_angvel": data["cam_angvel"], "has_cam": data["has_cam_mask"] & s.camera_condition}
    rows = {}
    x0 = runner.sample(cond, length, estimation_mode=True)
    for name, x in (("ours", x0), ("mean motion", np.zeros_like(x0))):
        dec = {k: np.asarray(v) for k, v in runner.decode(x, length, data["cam_angvel"], lift=False,
                                                                      camera=True).items()}
        rows[name] = _estimation_scores(dec["joints_c"], dec["vertices_c"], dec["joints_w"], gt_c, gt_vc, gt_w, mask)
    own = _estimation_scores(gt_c, gt_vc, gt_w, gt_c, gt_vc, gt_w, mask)
    rows["procedural GT"] = {"jitter": own["jitter"], "fs": own["fs"]}
    log(f"estimation: {s.estimation_clips} clips, MPJPE {rows['ours']['mpjpe']:.1f} mm "
        f"(mean motion {rows['mean motion']['mpjpe']:.1f})")
    return rows


# ----------------------------------------------------------------------------------- text

def run_text(runner: ModelRunner, evaluator: retrieval.Evaluator, skeleton, s: Settings, log=print):
    clips = heldout.text_clips(skeleton, s.text_clips, max_frames=s.length)
    others = heldout.text_clips(skeleton, s.text_clips, seed=heldout.REFERENCE_SEED, max_frames=s.length)
    captions = [c["caption"] for c in clips]
    gt_joints, length = retrieval.pad_motions(clips, s.length, runner.body)
    other_joints, other_length = retrieval.pad_motions(others, s.length, runner.body)
    # MultiModality: the first mm_prompts captions, mm_samples generations each (new noise)
    mm_rows = np.repeat(np.arange(s.mm_prompts), s.mm_samples)
    rows_caption = np.concatenate([np.arange(len(clips)), mm_rows])
    rows_length = length[rows_caption]
    text = runner.encode_texts(captions)[rows_caption]
    x0 = runner.sample(_empty_conditions(len(rows_caption), s.length), rows_length, text=text, steps=s.ddim_steps,
                       guidance=s.guidance_scale, seed=s.seed)
    joints = np.asarray(runner.decode(x0, rows_length)["joints_w"])
    motion = evaluator.embed_motion(joints, rows_length)
    gen, mm = motion[:len(clips)], motion[len(clips):].reshape(s.mm_prompts, s.mm_samples, -1)
    text_emb = evaluator.embed_captions(captions)
    gt = evaluator.embed_motion(gt_joints, length)
    other = evaluator.embed_motion(other_joints, other_length)
    times = min(10, s.mm_samples)

    def score(motions, reference):
        out = report.score_text(text_emb, motions, reference, replications=s.replications, seed=s.seed,
                                diversity_times=min(300, len(motions)))
        return {k: v for k, v in out.items() if not k.startswith("gt_")}, out

    ours, full = score(gen, gt)
    ours["multimodality"] = text_metrics.multimodality(mm, times=times, rng=np.random.default_rng(s.seed))
    real = {k[3:]: v for k, v in full.items() if k.startswith("gt_") and not k.endswith("_ci95")}
    real["fid"] = generation.frechet_distance(gt, other)
    random_rows, _ = score(other[np.random.default_rng(s.seed).permutation(len(other))], gt)
    log(f"text: {len(clips)} captions, R@3 {ours['r_precision_top3']:.3f} (real {real['r_precision_top3']:.3f}), "
        f"FID {ours['fid']:.2f}")
    return {"ours": ours, "procedural GT": real, "random real motions": random_rows}


# ---------------------------------------------------------------------------------- music

def _dance_joints(dances, body):
    """World joints (L_i, 24, 3) of each dance, by one batched FK over the padded set."""
    length = [len(d["transl"]) for d in dances]
    joints, _ = retrieval.pad_motions(dances, max(length), body)
    return [joints[i, :n] for i, n in enumerate(length)]


def score_music(generated, gt_joints, fps=30.0):
    """`report.score_music` (Bailando BAS, EDGE PFC, FID_k/FID_g/Div_k/Div_g at 60 fps), except that
    features constant over the GT set are left out of FID and Div: the reference divides them by
    its 1e-10 epsilon, and a small set of procedural dances (few styles) has such features (e.g.
    geometric tests that never fire), which would make FID ~1e20. Their counts are returned as
    `dropped_k` / `dropped_g`."""
    from genmo_jax.evaluate import humanml3d_features

    def features(joints):
        return generation.aist_features(humanml3d_features.resample(joints, fps, 60.0), frame_time=1.0 / 60)

    gen = [features(j) for j, _ in generated]
    gt = [features(j) for j in gt_joints]
    kept, dropped = [], {}
    for index, name in ((0, "k"), (1, "g")):
        gt_set = np.stack([f[index] for f in gt])
        keep = gt_set.std(0) > 1e-8
        kept.append((np.stack([f[index] for f in gen])[:, keep], gt_set[:, keep]))
        dropped[f"dropped_{name}"] = float((~keep).sum())
    out = generation.dance_feature_metrics(kept[0][0], kept[1][0], kept[0][1], kept[1][1])
    out.update(dropped)
    out["pfc"] = generation.physical_foot_contact([j for j, _ in generated], fps)
    out["bas"] = float(np.mean([generation.beat_alignment_score(b, j, "bailando") for j, b in generated]))
    return out


def run_music(runner: ModelRunner, skeleton, s: Settings, log=print):
    dances = heldout.dance_clips(skeleton, s.dance_clips, max_frames=s.dance_frames)
    others = heldout.dance_clips(skeleton, s.dance_clips, seed=heldout.REFERENCE_SEED, max_frames=s.dance_frames)
    length = np.array([len(d["transl"]) for d in dances], np.int32)
    num = int(-(-length.max() // 8) * 8)
    music = np.zeros((len(dances), num, 35), np.float32)
    has_music = np.arange(num)[None] < length[:, None]
    for i, d in enumerate(dances):
        music[i, :length[i]] = d["music"][:length[i]]
    x0 = runner.sample(_empty_conditions(len(dances), num, (music, has_music)), length, steps=s.ddim_steps,
                       guidance=s.guidance_scale, seed=s.seed)
    joints = np.asarray(runner.decode(x0, length)["joints_w"])
    generated = [(joints[i, :length[i]], d["beats"]) for i, d in enumerate(dances)]
    real, real_other = _dance_joints(dances, runner.body), _dance_joints(others, runner.body)
    rows = {"ours": score_music(generated, real)}
    rows["procedural GT"] = score_music([(j, d["beats"]) for j, d in zip(real_other, others)], real)
    shifted = others[1:] + others[:1]
    rows["real dances, other music"] = score_music([(j, d["beats"]) for j, d in zip(real_other, shifted)], real)
    log(f"music: {len(dances)} dances, BAS {rows['ours']['bas']:.3f} (real {rows['procedural GT']['bas']:.3f})")
    return rows


# ----------------------------------------------------------------------------- in-betweening

def keyframe_inputs(runner: ModelRunner, clip, frames):
    """Normalised keyframe values and mask (L, 151) for one clip's world params at `frames`."""
    tl = timeline_lib.Timeline(num_frames=len(clip["transl"]), keyframe_frames=np.asarray(frames),
                               keyframes={"global_orient": clip["global_orient"][frames],
                                          "body_pose": clip["body_pose"][frames], "betas": clip["betas"][None]})
    observed, mask = sample_lib.keyframe_targets(tl, runner.stats, runner.clip_std, runner.velocity_convention)
    return np.asarray(observed[0]), np.asarray(mask[0])


def run_inbetween(runner: ModelRunner, skeleton, s: Settings, num_keys: int, log=print):
    clips = heldout.inbetween_clips(skeleton, s.inbetween_clips, length=s.length)
    keys = [generation.inbetween_keyframes(s.length, num_keys, np.random.default_rng([s.seed, num_keys, i]))
            for i in range(len(clips))]
    inputs = [keyframe_inputs(runner, c, k) for c, k in zip(clips, keys)]
    observed = np.stack([o for o, _ in inputs])
    keymask = np.stack([m for _, m in inputs])
    gt, _ = retrieval.pad_motions(clips, s.length, runner.body)
    rows_of = np.repeat(np.arange(len(clips)), s.inbetween_samples)
    length = np.full(len(rows_of), s.length, np.int32)
    x0 = runner.sample(_empty_conditions(len(rows_of), s.length), length, observed=observed[rows_of],
                       keymask=keymask[rows_of], steps=s.ddim_steps, seed=s.seed + num_keys)
    joints = np.asarray(runner.decode(x0, length, lift=False)["joints_w"]).reshape(
        len(clips), s.inbetween_samples, s.length, 24, 3)
    rows = {"ours": report.score_inbetween([(joints[i], gt[i], keys[i]) for i in range(len(clips))])}
    clip_length = np.full(len(clips), s.length, np.int32)
    for name, x in (("mean motion", np.zeros_like(observed)), ("keys pasted into the mean motion", observed * keymask)):
        base = np.asarray(runner.decode(x, clip_length, lift=False)["joints_w"])
        rows[name] = report.score_inbetween([(base[i:i + 1], gt[i], keys[i]) for i in range(len(clips))])
    log(f"in-betweening ({num_keys} keys): {len(clips)} clips x {s.inbetween_samples} samples, "
        f"PA/WA {rows['ours']['pa_mpjpe']:.1f}/{rows['ours']['wa_mpjpe']:.1f} mm")
    return rows


# ------------------------------------------------------------------------------------ all

TASKS = ("estimation", "text", "music", "inbetween")


def run_benchmark(params_dir, out_dir, s: Settings, *, tasks=TASKS, retrieval_dir=None, quick_retrieval=False,
                  log=print):
    """Runs `tasks` on the exported model in `params_dir`; writes one table per task and
    `procedural.md` / `procedural.json` (all of them) into `out_dir`. Returns {table name: rows}."""
    import json
    import os

    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.data.procedural.__main__ import load_skeleton
    from genmo_jax.params_io import load_params

    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {TASKS}")
    start = time.perf_counter()
    exported = load_params(params_dir)
    body_name = str(exported.config.get("body", {}).get("model", "open"))
    if body_name != "open":
        log(f"note: the model's body is {body_name!r}; the procedural world and metrics use the open body")
    runner = ModelRunner(exported, body_model_from_config({"model": "open"}))
    skeleton = load_skeleton("open")
    os.makedirs(out_dir, exist_ok=True)
    tables, timings = {}, {}
    for task in tasks:
        t0 = time.perf_counter()
        if task == "estimation":
            tables["procedural_estimation"] = run_estimation(runner, skeleton, s, log)
        elif task == "text":
            if quick_retrieval:
                evaluator = retrieval.train_and_save(os.path.join(out_dir, "retrieval_quick"), clips=64, steps=5,
                                                     sanity_clips=32, log=log)
            else:
                evaluator = retrieval.load_or_train(retrieval_dir, log=log)
            if evaluator.minilm is None and runner.uses_default_minilm():
                evaluator.minilm = runner.text_encoder()   # the same packaged MiniLM: load it once
            tables["procedural_text"] = run_text(runner, evaluator, skeleton, s, log)
            tables["procedural_text"]["_evaluator"] = evaluator.info
        elif task == "music":
            tables["procedural_music"] = run_music(runner, skeleton, s, log)
        else:
            for k in (2, 5):
                tables[f"procedural_inbetween{k}"] = run_inbetween(runner, skeleton, s, k, log)
        timings[task] = time.perf_counter() - t0
    settings = {**dataclasses.asdict(s), "params": os.path.abspath(params_dir), "heldout_seed": heldout.HELDOUT_SEED,
                "reference_seed": heldout.REFERENCE_SEED, "seconds": timings}
    markdown = [f"# Procedural benchmark: {os.path.abspath(params_dir)}", ""]
    for name, rows in tables.items():
        info = rows.pop("_evaluator", None)
        refs = {k: v for k, v in rows.items() if k != "ours"}
        notes = _notes(name, s, info)
        markdown.append(report.write_report(out_dir, _with_references(name, refs, ROWS_SOURCE), rows["ours"],
                                            {**settings, "evaluator": info} if info else settings, notes=notes))
    with open(os.path.join(out_dir, "procedural.md"), "w") as f:
        f.write("\n".join(markdown))
    with open(os.path.join(out_dir, "procedural.json"), "w") as f:
        json.dump({"settings": settings, "tables": tables}, f, indent=2, default=float)
    log(f"procedural benchmark done in {time.perf_counter() - start:.0f} s -> {out_dir}/procedural.md")
    return tables


def _notes(name, s: Settings, info):
    if name == "procedural_estimation":
        return [f"{s.estimation_clips} clips x {s.length} frames; camera condition "
                f"{'on' if s.camera_condition else 'off'}; world rollout with the GT camera rotations; "
                "foot sliding on joints 7, 10, 8, 11; PVE on open-body vertices."]
    if name == "procedural_text":
        sanity = (info or {}).get("sanity", {})
        line = f"{s.text_clips} captions, {s.ddim_steps}-step DDIM, guidance {s.guidance_scale}; " \
               f"Diversity over {min(300, s.text_clips)} pairs; MultiModality {s.mm_prompts} prompts x " \
               f"{s.mm_samples}; {s.replications} replications."
        if sanity:
            line += (" Evaluator sanity (held-out real): R@1/2/3 " + "/".join(f"{v:.3f}" for v in sanity["real_r_precision"])
                     + ", shuffled " + "/".join(f"{v:.3f}" for v in sanity["shuffled_r_precision"]) + ".")
        return [line]
    if name == "procedural_music":
        return [f"{s.dance_clips} dances, {s.ddim_steps}-step DDIM, guidance {s.guidance_scale}; "
                "BAS: Bailando variant at 30 fps, beats = the synthetic music's beat grid; FID/Div leave out "
                "features constant over the GT dances (`benchmark.score_music`)."]
    return [f"{s.inbetween_clips} clips x {s.length} frames, {s.inbetween_samples} samples each, "
            f"{s.ddim_steps}-step DDIM; keyframes: pose + root orientation (no translation)."]
