"""`python -m genmo_jax.sample`: a timeline of conditions -> motion files.

    python -m genmo_jax.sample --params DIR --timeline FILE --out DIR
    python -m genmo_jax.sample --params DIR --text "a person walks forward" --seconds 8 --out DIR

One jitted pass over the whole timeline (DDIM with classifier-free guidance, or one estimation
pass), sliding-window attention for long motions. Writes, per sample (suffix `_s{i}` after the
first): `motion.npz` (world SMPL params in AMASS's keys + camera-frame params, contacts, joints,
the timeline), `motion.bvh` (SMPL 24-joint skeleton with the sampled body's rest offsets) and a
preview `motion.mp4` (or `.gif` with --preview gif).

Conventions (docs/CONVENTIONS.md): world y-up metres, 30 fps. Without a real camera the motion
is seen by a level static camera (R_c2gv = diag(-1, -1, 1)); the world frame is the gravity-view
frame of the first frame, shifted so that the lowest joint of the motion touches y = 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax import timeline as timeline_lib
from genmo_jax.body import smpl
from genmo_jax.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from genmo_jax.body.select import body_model_from_config
from genmo_jax.diffusion.sampler import ddim_sample, estimate
from genmo_jax.diffusion.schedule import cosine_schedule, ddim_timesteps
from genmo_jax.motion import camera as camera_lib
from genmo_jax.motion.gravity_view import gravity_view_rotation
from genmo_jax.motion.normalization import NormStats, denormalize, normalize
from genmo_jax.motion.representation import MOTION_DIM, decode_motion, encode_motion
from genmo_jax.motion.rollout import rollout_world

LEVEL_CAMERA = np.diag([-1.0, -1.0, 1.0]).astype(np.float32)  # R_w2c of a level camera, world = GV0
IDENTITY_6D = np.array([1, 0, 0, 0, 1, 0], np.float32)
KEYFRAME_DIMS = slice(0, 148)  # body pose, betas, both root orientations (SPEC B 3.4)
BETAS_DIMS = slice(126, 136)
AMASS_POSE_DIM = 156           # AMASS SMPL-H layout: root 3 + 21 body joints + 30 hand joints


def build_conditions(tl: timeline_lib.Timeline) -> dict:
    """Raw per-frame conditions (numpy, batch 1) for `Denoiser.embed_conditions`."""
    num = tl.num_frames
    cond = {}
    K = np.repeat(tl.intrinsics[None], num, 0)
    has_video = tl.keypoints is not None or tl.image_features is not None
    if tl.keypoints is not None:
        visible = tl.keypoints[..., 2] > 0.5
        cond["obs"] = np.asarray(camera_lib.normalize_kp2d_to_bbox(tl.keypoints, tl.bbox))
        has_2d = visible.sum(-1) > 3  # the release's occlusion rule: <= 3 visible joints = no 2D
        cond["f_cliffcam"] = np.asarray(camera_lib.bbox_info(tl.bbox, K)) * has_2d[:, None]
        cond["has_2d"] = has_2d
    else:
        cond["obs"] = np.zeros((num, 17, 3), np.float32)
    if tl.image_features is not None:
        cond["f_imgseq"] = tl.image_features
        cond["has_img"] = np.ones(num, bool)
    if tl.R_w2c is not None:
        cond["cam_angvel"] = np.asarray(camera_lib.cam_angvel_from_R_w2c(tl.R_w2c))
        cond["has_cam"] = np.ones(num, bool)
    else:
        cond["cam_angvel"] = np.tile(IDENTITY_6D, (num, 1))
        # Training removes the camera condition from samples with text or music (SPEC B 2.7).
        cond["has_cam"] = np.full(num, has_video and not tl.texts and tl.music_file is None)
    if tl.music_file is not None:
        from genmo_jax.data import music

        waveform = music.load_waveform(tl.music_file, music.FEATURE_RATE)
        waveform = waveform[int(round(tl.music_offset_s * music.FEATURE_RATE)):]
        cond["music"] = music.fit_frames(music.music_features(waveform, music.FEATURE_RATE), num)
        cond["has_music"] = np.ones(num, bool)
    return {k: np.asarray(v)[None] for k, v in cond.items()}


def keyframe_targets(tl: timeline_lib.Timeline, stats: NormStats, clip_std: bool, velocity_convention: str):
    """Normalised keyframe values and mask, each (1, L, 151), seen by the level static camera."""
    num = tl.num_frames
    frames = tl.keyframe_frames
    keys = tl.keyframes
    orient_w = np.zeros((num, 3), np.float32)
    body_pose = np.zeros((num, 63), np.float32)
    betas = np.zeros((num, 10), np.float32)
    orient_w[frames] = keys["global_orient"]
    body_pose[frames] = keys["body_pose"].reshape(len(frames), -1)[:, :63]
    if "betas" in keys:
        betas[:] = np.asarray(keys["betas"], np.float32).reshape(-1, keys["betas"].shape[-1])[0, :10]
    R_w2c = np.repeat(LEVEL_CAMERA[None], num, 0)
    orient_c = np.asarray(matrix_to_axis_angle(R_w2c @ axis_angle_to_matrix(orient_w)))
    params_c = {"body_pose": body_pose, "betas": betas, "global_orient": orient_c, "transl": np.zeros((num, 3))}
    params_w = {"body_pose": body_pose, "betas": betas, "global_orient": orient_w, "transl": np.zeros((num, 3))}
    x = encode_motion(params_c, params_w, gravity_view_rotation(R_w2c), velocity_convention=velocity_convention)
    mask = np.zeros((num, MOTION_DIM), np.float32)
    mask[frames, KEYFRAME_DIMS] = 1.0
    if "betas" not in keys:
        mask[:, BETAS_DIMS] = 0.0
    else:
        mask[:, BETAS_DIMS] = 1.0
    return np.asarray(normalize(x, stats, clip_std))[None], mask[None]


def encode_texts(tl: timeline_lib.Timeline, config):
    """(1, K, T, D) text states and (1, K, 2) frame windows, or (None, None) without text."""
    if not tl.texts:
        return None, None
    from genmo_jax.model.text import load_text_encoder

    encoder = load_text_encoder(config.text)
    if encoder is None:
        raise ValueError("the timeline has texts but the model was trained without a text encoder (text.encoder = none)")
    states, mask = encoder.encode([t.text for t in tl.texts])
    states = np.asarray(states, np.float32) * np.asarray(mask, np.float32)[..., None]
    windows = np.array([[t.start_frame, t.end_frame] for t in tl.texts], np.int32)
    return states[None], windows[None]


def make_sampler(model, config, tl: timeline_lib.Timeline, stats: NormStats, *, progress=None):
    """(jitted (state, key) -> model outputs dict for `tl.num_samples` samples, the model state).

    progress: optional host callback called once per denoising step (a progress bar)."""
    graphdef, state = nnx.split(model)
    cond = build_conditions(tl)
    text, windows = encode_texts(tl, config)
    clip_std = bool(config.model.get("clip_std", True))
    if tl.keyframes is not None:
        observed, keymask = keyframe_targets(tl, stats, clip_std, config.model.get("velocity_convention", "gvhmr"))
    else:
        observed = keymask = None
    batch, num = tl.num_samples, tl.num_frames
    guided = not tl.estimation and tl.guidance_scale != 1.0
    timesteps = ddim_timesteps(int(config.diffusion.get("num_timesteps", 1000)), tl.ddim_steps)
    schedule = cosine_schedule(int(config.diffusion.get("num_timesteps", 1000)))

    def tile(a, n):
        return None if a is None else jnp.repeat(jnp.asarray(a), n, axis=0)

    def run(state, key):
        net = nnx.merge(graphdef, state)
        feats = net.embed_conditions({k: tile(v, batch) for k, v in cond.items()}, deterministic=True)
        reps = 2 if guided else 1
        f = jnp.concatenate([feats["f_cond"], feats["f_uncond"]], 0) if guided else feats["f_cond"]
        txt = tile(text, batch)
        if txt is not None and guided:
            txt = jnp.concatenate([txt, jnp.zeros_like(txt)], 0)  # unconditional branch: no text
        win = tile(windows, batch * reps)
        obs_m = tile(observed, batch * reps)
        key_m = tile(keymask, batch * reps)
        length = jnp.full((f.shape[0],), num, jnp.int32)

        def model_fn(x_t, t):
            if progress is not None:
                jax.debug.callback(progress, t[0])
            return net(x_t, t, f, length, text=txt, text_windows=win, observed_motion=obs_m,
                       motion_mask=key_m, deterministic=True)

        if tl.estimation:
            return estimate(model_fn, (batch, num, MOTION_DIM))
        x_T = jax.random.normal(key, (batch, num, MOTION_DIM), jnp.float32)
        return ddim_sample(model_fn, x_T, schedule=schedule, timesteps=timesteps, eta=tl.eta,
                           guidance_scale=tl.guidance_scale if guided else None,
                           rng=jax.random.fold_in(key, 1) if tl.eta else None)

    return jax.jit(run), state


def decode_outputs(out: dict, tl: timeline_lib.Timeline, stats: NormStats, body, clip_std: bool = True) -> list[dict]:
    """Model outputs -> per-sample world and camera SMPL params, joints, contacts (numpy)."""
    x = denormalize(out["x0"], stats, clip_std)
    dec = decode_motion(x)
    num = tl.num_frames
    R_w2c = tl.R_w2c if tl.R_w2c is not None else np.repeat(LEVEL_CAMERA[None], num, 0)
    cam_angvel = camera_lib.cam_angvel_from_R_w2c(R_w2c)
    betas = jnp.mean(dec["betas"], axis=1, keepdims=True) * jnp.ones_like(dec["betas"])
    world = rollout_world(dec["global_orient_gv"], dec["global_orient_c"], cam_angvel[None], dec["local_transl_vel"])
    bbox = tl.bbox if tl.bbox is not None else np.tile(np.float32([tl.image_size[0] / 2, tl.image_size[1] / 2,
                                                                    min(tl.image_size) * 0.6]), (num, 1))
    K = np.repeat(tl.intrinsics[None], num, 0)
    transl_c = camera_lib.pred_cam_to_transl(out["pred_cam"], bbox[None], K[None])
    joints_w = smpl.skeleton_forward(body, betas, world["global_orient"], dec["body_pose"], world["transl"])
    lift = -jnp.min(joints_w[..., 1], axis=(1, 2))  # stand on the ground plane y = 0
    transl_w = world["transl"] + lift[:, None, None] * jnp.array([0.0, 1.0, 0.0])
    joints_w = joints_w + lift[:, None, None, None] * jnp.array([0.0, 1.0, 0.0])
    joints_c = smpl.skeleton_forward(body, betas, dec["global_orient_c"], dec["body_pose"], transl_c)
    contacts = jax.nn.sigmoid(out["contact_logits"]) > 0.5
    results = []
    for i in range(x.shape[0]):
        results.append({k: np.asarray(v[i]) for k, v in {
            "body_pose": dec["body_pose"], "betas": betas, "global_orient_w": world["global_orient"],
            "transl_w": transl_w, "global_orient_c": dec["global_orient_c"], "transl_c": transl_c,
            "joints_w": joints_w, "joints_c": joints_c, "contacts": contacts}.items()})
    return results


def write_outputs(out_dir, result: dict, tl: timeline_lib.Timeline, body, *, suffix="", preview="mp4",
                  gender="neutral") -> dict:
    """Writes motion{suffix}.npz / .bvh / .mp4|.gif and returns their paths."""
    from genmo_jax.viz.bvh import write_smpl_bvh
    from genmo_jax.viz.render import render_motion

    os.makedirs(out_dir, exist_ok=True)
    num = tl.num_frames
    poses = np.zeros((num, AMASS_POSE_DIM), np.float32)
    poses[:, :3] = result["global_orient_w"]
    poses[:, 3:66] = result["body_pose"]
    betas16 = np.zeros(16, np.float32)
    betas16[:10] = result["betas"][0]
    paths = {"npz": os.path.join(out_dir, f"motion{suffix}.npz")}
    np.savez(paths["npz"], poses=poses, trans=result["transl_w"], betas=betas16, gender=np.array(gender),
             mocap_framerate=np.array(timeline_lib.FPS), poses_c=np.concatenate(
                 [result["global_orient_c"], result["body_pose"]], -1), trans_c=result["transl_c"],
             joints_w=result["joints_w"], contacts=result["contacts"],
             timeline=np.array(json.dumps(tl.to_json())))
    rest = np.asarray(smpl.rest_joints(body, jnp.asarray(result["betas"][0])))
    paths["bvh"] = os.path.join(out_dir, f"motion{suffix}.bvh")
    write_smpl_bvh(paths["bvh"], rest, result["global_orient_w"], result["body_pose"], result["transl_w"],
                   fps=timeline_lib.FPS)
    if preview:
        paths["preview"] = os.path.join(out_dir, f"motion{suffix}.{preview}")
        texts = [(t.text, t.start_frame, t.end_frame) for t in tl.texts]
        with_2d = tl.keypoints is not None
        render_motion(paths["preview"], result["joints_w"], fps=timeline_lib.FPS, texts=texts,
                      kp2d=tl.keypoints if with_2d else None, joints_c=result["joints_c"] if with_2d else None,
                      K=tl.intrinsics, image_size=tl.image_size, stride=2 if num > 150 else 1)
    return paths


def sample_timeline(params_dir, tl: timeline_lib.Timeline, out_dir, *, preview="mp4", verbose=True):
    """Loads exported params, samples the timeline and writes the files. Returns a summary dict."""
    from tqdm import tqdm

    from genmo_jax.params_io import load_params

    exported = load_params(params_dir)
    config = exported.config
    stats = NormStats(mean=jnp.asarray(exported.stats["mean"]), std=jnp.asarray(exported.stats["std"]))
    body = body_model_from_config(config.get("body", {"model": "open"}))
    steps = 1 if tl.estimation else tl.ddim_steps
    bars = []  # the bar starts after compilation; the callback ticks it once per denoising step

    def tick(_):
        if bars and bars[0].n < bars[0].total:
            bars[0].update(1)

    jitted, state = make_sampler(exported.model, config, tl, stats, progress=tick)
    key = jax.random.key(tl.seed)
    start = time.perf_counter()
    compiled = jitted.lower(state, key).compile()
    compile_s = time.perf_counter() - start
    bar = tqdm(total=steps, desc="denoising", unit="step", disable=not verbose)
    bars.append(bar)
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(state, key))
    run_s = time.perf_counter() - start
    bar.close()
    results = decode_outputs(out, tl, stats, body, clip_std=bool(config.model.get("clip_std", True)))
    files = [write_outputs(out_dir, r, tl, body, suffix="" if i == 0 else f"_s{i}", preview=preview,
                           gender=str(config.get("body", {}).get("gender", "neutral")))
             for i, r in enumerate(results)]
    summary = {"frames": tl.num_frames, "samples": tl.num_samples, "steps": steps, "compile_s": compile_s,
               "sample_s": run_s, "frames_per_s": tl.num_frames * tl.num_samples / run_s, "files": files}
    if verbose:
        print(f"compiled in {compile_s:.1f} s; sampled {tl.num_samples} x {tl.num_frames} frames "
              f"({steps} steps) in {run_s:.2f} s = {summary['frames_per_s']:.0f} frames/s "
              f"({summary['frames_per_s'] / timeline_lib.FPS:.1f}x real time)")
        for f in files:
            for kind, path in f.items():
                print(f"  {kind:8s} {path}")
    return summary


def _timeline_from_args(args) -> timeline_lib.Timeline:
    if args.timeline:
        spec = timeline_lib.read_timeline_file(args.timeline)
        base = os.path.dirname(os.path.abspath(args.timeline))
    else:
        if not args.text:
            raise timeline_lib.TimelineError("give --timeline FILE or at least one --text")
        spec = {"seconds": args.seconds, "texts": [{"text": t} for t in args.text]}
        base = os.getcwd()
    for key in ("seed", "num_samples", "ddim_steps", "guidance_scale"):
        value = getattr(args, key)
        if value is not None:
            spec[key] = value
    return timeline_lib.parse_timeline(spec, base)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.sample", description=__doc__.split("\n")[0])
    parser.add_argument("--params", required=True, help="exported params folder (python -m genmo_jax.export)")
    parser.add_argument("--timeline", help="timeline JSON/YAML (docs/TIMELINE.md)")
    parser.add_argument("--text", action="append", help="a caption for the whole motion (repeatable)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length with --text (default 8)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--num-samples", dest="num_samples", type=int)
    parser.add_argument("--ddim-steps", dest="ddim_steps", type=int)
    parser.add_argument("--guidance-scale", dest="guidance_scale", type=float)
    parser.add_argument("--preview", choices=("mp4", "gif", "none"), default="mp4")
    args = parser.parse_args(argv)
    try:
        tl = _timeline_from_args(args)
        sample_timeline(args.params, tl, args.out, preview=None if args.preview == "none" else args.preview)
    except (timeline_lib.TimelineError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
