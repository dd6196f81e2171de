"""GENMO's dual-mode training objective (SPEC B 4.1-4.2, A6, A7) and the ``genmo`` task.

``genmo_terms(model, batch, key, spec)`` runs, inside the jitted train step:
  1. targets: the GT 151-d vector (``motion.representation.encode_motion``, normalised), GT
     camera-frame joints (FK) and sparse vertices, GT pred_cam, GT contacts;
  2. condition dropout per mode (SPEC B 2.7): per-frame ``uncond`` drops, CFG drops of text /
     music / audio per sample, image + 2D drop for text/music/audio samples in generation mode;
  3. **estimation mode**: x_t = 0, t = 999, one pass;
  4. **generation mode**: t ~ U{0..999}, x_t = q(x_start, t); x_start is the GT vector, except on
     2D-only rows where it is the estimation output of step 3 under ``stop_gradient`` (A6:
     estimation-guided 2D training);
  5. the loss terms of ``losses`` with the config weights, per mode; 2D-only rows get only the
     2D keypoint term and the regularisers (acceleration; closeness to the pseudo-clean motion).
     ``gv_j3d`` (GV-frame joints, not in the release) is weighted 0 in full.py / regression.py.
Per-dataset mode selection (A7): ``both`` = every row in both modes (the release); ``paper`` =
rows with text or music are trained in generation mode only.

Batch contract (B rows, L frames; what ``genmo_jax.data.pipeline`` yields, after
``HostBatches`` turned captions into text states): length (B,); body_pose (B, L, 63), betas
(B, L, 10); global_orient_c / transl_c, global_orient_w / transl_w (B, L, 3); joints_w (B, L, 24,
3); R_c2gv, K (B, L, 3, 3); bbox_xys (B, L, 3); kp2d, obs (B, L, 17, 3); f_cliffcam (B, L, 3);
cam_angvel (B, L, 6); img_feat (B, L, 1024); music_feat (B, L, 35); audio (B, L * 600) (only
for models with an audio encoder);
has_{2d,img,cam,music,audio}_mask (B, L); has_text (B,); flag_2d_only, flag_spv_incam_only,
flag_invalid_contact (B,); text (B, K, T, D) and text_windows (B, K, 2) when the model has text.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.body import skeletons, smpl
from genmo_jax.body.rotations import axis_angle_to_matrix, rotation_6d_to_matrix
from genmo_jax.diffusion import schedule as schedule_lib
from genmo_jax.motion import camera, contacts, normalization, representation
from genmo_jax.train import losses

ESTIMATION_T = 999
MASK_IMG_PROB = 0.5       # SPEC B 2.7: image + 2D dropped for text/music/audio rows (generation)
UNCOND_PROB = 0.1         # SPEC B 2.7: per-frame "absent" drop of every flagged condition
HIP_JOINTS = (1, 2)       # SMPL hips = COCO hips 11, 12 in the data's COCO definition
# COCO-17 keypoints 5..16 are SMPL joints (data/simulate.py); the 5 face points are not.
COCO_BODY = tuple(range(5, 17))
COCO_BODY_FROM_SMPL = (16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
TERMS = ("simple", "cr_j3d", "cr_verts", "j2d", "verts2d", "transl_c", "transl_w", "contact",
         "gv_j3d", "twod_kp2d", "twod_pseudo", "twod_accel")
TWOD_TERMS = ("twod_kp2d", "twod_pseudo", "twod_accel")


@dataclasses.dataclass(frozen=True)
class ObjectiveSpec:
    """Everything the objective needs besides the model and the batch (arrays are constants)."""

    body: Any                      # smpl.BodyModel (pytree)
    stats: Any                     # normalization.NormStats
    noise: Any                     # diffusion.schedule.NoiseSchedule (numpy tables)
    weights: dict
    modes: tuple = ("estimation", "generation")
    mode_selection: str = "both"
    text_drop_prob: float = 0.1
    music_drop_prob: float = 0.1
    audio_drop_prob: float = 0.1
    clip_std: bool = True
    velocity_convention: str = "gvhmr"
    # False when no dataset of the mix can hold 2D-only rows: both modes then run as one pass
    # (``genmo_terms``). True is always correct, only slower.
    twod_rows: bool = True


def _x0_dim_weights(spec: ObjectiveSpec):
    """(151,) factors of the x0 MSE, or None for the release's unweighted mean:
    ``loss.simple_velocity_weight`` on the 3 local-velocity dims (configs/tiny.py: 200)."""
    velocity_weight = float(spec.weights.get("simple_velocity_weight", 1.0))
    if velocity_weight == 1.0:
        return None
    weights = np.ones(151, np.float32)
    weights[representation.LOCAL_TRANSL_VEL] = velocity_weight
    return weights


def _bool(x):
    return jnp.asarray(x).astype(bool)


def _sanitize(batch: dict) -> dict:
    """Non-finite inputs (absent GT of 2D-only rows) become 0, so that no NaN reaches a gradient
    through a masked branch (0 * NaN = NaN)."""
    return {k: (jnp.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
                if jnp.issubdtype(jnp.asarray(v).dtype, jnp.floating) else v)
            for k, v in batch.items()}


def body_points(body, betas, rotations, transl):
    """Camera-frame joints (B, L, 22, 3) and the sparse vertices (B, L, K, 3) of the losses, metres:
    one body pass (FK + blend shapes + skinning of the K vertices only) from the local rotations
    (B, L, 22, 3, 3) of ``pose_rotations`` / ``predicted_rotations``."""
    out = smpl.forward_from_rotations(body, betas, rotations, transl,
                                      vertex_ids=body.sparse_vertex_ids)
    return out["joints"][..., :skeletons.NUM_BODY_JOINTS, :], out["vertices"]


def pose_rotations(global_orient, body_pose):
    """Axis-angle global_orient (..., 3) + body_pose (..., 63) rad -> (..., 22, 3, 3)."""
    pose = jnp.concatenate([global_orient, body_pose], axis=-1)
    return axis_angle_to_matrix(pose.reshape(pose.shape[:-1] + (skeletons.NUM_BODY_JOINTS, 3)))


def predicted_rotations(x):
    """Unnormalised 151-d vectors (..., 151) -> local rotations (..., 22, 3, 3) of
    global_orient_c + the 21 body joints, straight from 6D (``decode_motion`` goes on to
    axis-angle, which the body pass would turn back into these matrices)."""
    body = x[..., representation.BODY_POSE].reshape(x.shape[:-1] + (-1, 6))
    root = x[..., None, representation.GLOBAL_ORIENT_C]
    return rotation_6d_to_matrix(jnp.concatenate([root, body], axis=-2))


def _targets(batch: dict, spec: ObjectiveSpec) -> dict:
    length = batch["length"]
    smpl_c = {"body_pose": batch["body_pose"], "betas": batch["betas"],
              "global_orient": batch["global_orient_c"]}
    smpl_w = {"global_orient": batch["global_orient_w"], "transl": batch["transl_w"]}
    x = representation.encode_motion(smpl_c, smpl_w, batch["R_c2gv"],
                                     spec.velocity_convention, length)
    joints, verts = body_points(
        spec.body, batch["betas"],
        pose_rotations(batch["global_orient_c"], batch["body_pose"]), batch["transl_c"])
    contact_w = batch["joints_w"][..., skeletons.CONTACT_JOINTS, :]
    return {
        "x_norm": normalization.normalize(x, spec.stats, spec.clip_std),
        "joints_c": joints, "verts_c": verts,
        "joints_2d": losses.project_to_bbox01(joints, batch["K"], batch["bbox_xys"]),
        "verts_2d": losses.project_to_bbox01(verts, batch["K"], batch["bbox_xys"]),
        "pred_cam": camera.transl_to_pred_cam(batch["transl_c"], batch["bbox_xys"], batch["K"]),
        "contacts": contacts.contact_labels(contact_w).astype(jnp.float32),
        "rot_w": axis_angle_to_matrix(batch["global_orient_w"]),
        "kp2d_01": losses.pixels_to_bbox01(batch["kp2d"][..., :2], batch["bbox_xys"]),
    }


def _conditions(batch: dict, key, generation: bool, spec: ObjectiveSpec):
    """The raw condition dict of one mode, with the training drops of SPEC B 2.7."""
    B, L = batch["obs"].shape[:2]
    k_uncond, k_img, k_music, k_audio, k_text = jax.random.split(key, 5)
    has_music = _bool(batch["has_music_mask"])
    has_audio = _bool(batch["has_audio_mask"])
    has_text = _bool(batch["has_text"])
    generative = has_text | has_music.any(1) | has_audio.any(1)                  # (B,)
    keep = jax.random.uniform(k_uncond, (5, B, L)) >= UNCOND_PROB                # per frame
    drop_img = (generative & (jax.random.uniform(k_img, (B,)) < MASK_IMG_PROB)
                if generation else jnp.zeros((B,), bool))
    music_on = jax.random.uniform(k_music, (B,)) >= spec.music_drop_prob
    audio_on = jax.random.uniform(k_audio, (B,)) >= spec.audio_drop_prob
    text_on = has_text & (jax.random.uniform(k_text, (B,)) >= spec.text_drop_prob)
    has_2d = _bool(batch["has_2d_mask"]) & ~drop_img[:, None]
    cond = {
        "obs": batch["obs"] * has_2d[..., None, None],
        "f_cliffcam": batch["f_cliffcam"], "has_2d": has_2d & keep[0],
        "f_imgseq": batch["img_feat"],
        "has_img": _bool(batch["has_img_mask"]) & ~drop_img[:, None] & keep[1],
        "cam_angvel": batch["cam_angvel"], "has_cam": _bool(batch["has_cam_mask"]) & keep[2],
        "music": batch["music_feat"], "has_music": has_music & music_on[:, None] & keep[3],
        "audio": batch.get("audio"), "has_audio": has_audio & audio_on[:, None] & keep[4],
    }
    # SPEC A7 "paper": text / music rows (weak conditions) are trained in generation mode only.
    weak = has_text | has_music.any(1)
    return cond, text_on, weak


def _predictions(out: dict, K: jax.Array, bbox: jax.Array, spec: ObjectiveSpec) -> dict:
    """The geometry of a pass's outputs (rows as in ``out``): decoded motion, camera-frame
    joints / sparse vertices through pred_cam, and their bbox-normalised projections."""
    x_norm = out["x0"].astype(jnp.float32)
    x = normalization.denormalize(x_norm, spec.stats, spec.clip_std)
    rotations = predicted_rotations(x)
    rot_c = rotations[..., 0, :, :]
    rot_gv = rotation_6d_to_matrix(x[..., representation.GLOBAL_ORIENT_GV])
    pred_cam = out["pred_cam"].astype(jnp.float32)
    transl = camera.pred_cam_to_transl(pred_cam, bbox, K)
    joints, verts = body_points(spec.body, x[..., representation.BETAS], rotations, transl)
    return {"x_norm": x_norm, "local_transl_vel": x[..., representation.LOCAL_TRANSL_VEL],
            "pred_cam": pred_cam, "contact_logits": out["contact_logits"].astype(jnp.float32),
            "joints": joints, "verts": verts,
            "c2gv": jnp.einsum("...ij,...kj->...ik", rot_gv, rot_c),   # R_gv R_c^T
            "j2d": losses.project_to_bbox01(joints, K, bbox),
            "v2d": losses.project_to_bbox01(verts, K, bbox)}


def _mode_terms(pred: dict, batch: dict, tgt: dict, masks: dict, rows: jax.Array,
                incam, spec: ObjectiveSpec, pseudo_x: jax.Array | None) -> dict:
    """Unweighted loss terms of one pass (``_predictions``). rows (B,) bool: rows trained in
    this mode."""
    m = {k: v & rows[:, None] for k, v in masks.items()}
    x_norm, joints, verts = pred["x_norm"], pred["joints"], pred["verts"]
    K, bbox = batch["K"], batch["bbox_xys"]
    gt_hips = tgt["joints_c"][..., HIP_JOINTS, :].mean(-2)
    hips = joints[..., HIP_JOINTS, :].mean(-2)
    terms = {
        "simple": losses.x0_mse(x_norm, tgt["x_norm"], losses.x0_mask(m, incam),
                                _x0_dim_weights(spec)),
        "cr_j3d": losses.root_relative_mse(joints, tgt["joints_c"], joints[..., 0, :],
                                           tgt["joints_c"][..., 0, :], m["full3d"]),
        "cr_verts": losses.root_relative_mse(verts, tgt["verts_c"], hips, gt_hips, m["full3d"]),
        "j2d": losses.reprojection_mse(pred["j2d"], tgt["joints_2d"], losses.reprojection_mask(
            tgt["joints_c"], joints, tgt["joints_2d"], m["reproj"])),
        "verts2d": losses.reprojection_mse(pred["v2d"], tgt["verts_2d"],
                                           losses.reprojection_mask(
                                               tgt["verts_c"], verts, tgt["verts_2d"],
                                               m["reproj"])),
        "transl_c": losses.pred_cam_mse(pred["pred_cam"], tgt["pred_cam"], losses.pred_cam_mask(
            tgt["pred_cam"], tgt["joints_c"], bbox, m["full3d"])),
        "gv_j3d": losses.gravity_view_mse(joints, tgt["joints_c"], pred["c2gv"], batch["R_c2gv"],
                                          m["world"]),
        "transl_w": losses.transl_w_l1(pred["local_transl_vel"], tgt["rot_w"],
                                       batch["transl_w"], m["world"]),
        "contact": losses.contact_bce(pred["contact_logits"], tgt["contacts"], m["contact"]),
    }
    # Estimation-guided 2D terms (A6): 2D-only rows see only these.
    coco = joints[..., COCO_BODY_FROM_SMPL, :]
    kp_mask = (m["twod"][..., None] & (batch["kp2d"][..., COCO_BODY, 2] > 0.5)
               & (coco[..., 2] > losses.MIN_DEPTH))
    terms["twod_kp2d"] = losses.reprojection_mse(
        losses.project_to_bbox01(coco, K, bbox), tgt["kp2d_01"][..., COCO_BODY, :], kp_mask)
    terms["twod_accel"] = losses.acceleration_l2(joints, m["twod"])
    if pseudo_x is None:
        terms["twod_pseudo"] = jnp.zeros((), jnp.float32)
    else:
        terms["twod_pseudo"] = losses.x0_mse(x_norm, pseudo_x, m["twod"][..., None])
    return terms


def _rows(tree, start: int, stop: int):
    return jax.tree.map(lambda a: a[start:stop], tree)


def _stack_rows(a, b):
    return jax.tree.map(lambda x, y: jnp.concatenate([x, y], axis=0), a, b)


def genmo_terms(model, batch: dict, key: jax.Array, spec: ObjectiveSpec) -> dict:
    """{"<mode>/<term>": unweighted scalar} for the configured modes (see module docstring).

    Without 2D-only data (``spec.twod_rows`` False) and with both modes, the estimation and the
    generation pass run as ONE denoiser call and ONE body pass on the 2B rows [estimation;
    generation] (same keys, conditions, noise and terms as the two sequential passes; half the
    program to compile). With 2D-only data the generation input of those rows is the
    estimation output, so the passes run one after the other; the conditions of both modes
    are still embedded in one call on 2B rows (they do not depend on either pass).
    """
    batch = _sanitize(batch)
    B, L = batch["obs"].shape[:2]
    length = batch["length"]
    tgt = _targets(batch, spec)
    twod = _bool(batch["flag_2d_only"])
    incam = _bool(batch["flag_spv_incam_only"])
    masks = losses.loss_masks(length, L, twod, incam, _bool(batch["flag_invalid_contact"]))
    text = batch.get("text")
    windows = batch.get("text_windows")
    k_t, k_noise, k_cond_e, k_cond_g = jax.random.split(key, 4)
    out_terms = {}
    both = "estimation" in spec.modes and "generation" in spec.modes

    def denoise(x_t, t, f_cond, text_on, rows=1):
        txt = None if text is None else jnp.tile(text, (rows, 1, 1, 1)) * \
            text_on[:, None, None, None].astype(text.dtype)
        win = None if windows is None else jnp.tile(windows, (rows, 1, 1))
        return model(x_t, t, f_cond, jnp.tile(length, rows), text=txt,
                     text_windows=win, deterministic=False)

    def embed(cond):
        return model.embed_conditions(cond, deterministic=False)["f_cond"]

    cond_e, text_on_e, weak = _conditions(batch, k_cond_e, False, spec)
    if "generation" in spec.modes:
        # Both modes' conditions in one embedder call on 2B rows: neither depends on a pass.
        cond_g, text_on_g, _ = _conditions(batch, k_cond_g, True, spec)
        f_cond_e, f_cond_g = jnp.split(embed(_stack_rows(cond_e, cond_g)), 2)
    else:
        f_cond_e = embed(cond_e)
    x_e = jnp.zeros((B, L, representation.MOTION_DIM), jnp.float32)
    t_e = jnp.full((B,), ESTIMATION_T, jnp.int32)
    est_rows = jnp.ones((B,), bool) if spec.mode_selection == "both" else ~weak
    all_rows = jnp.ones((B,), bool)

    def noised(x_start):
        t = jax.random.randint(k_t, (B,), 0, spec.noise.num_timesteps)
        noise = jax.random.normal(k_noise, x_start.shape, jnp.float32)
        return schedule_lib.q_sample(spec.noise, x_start, t, noise), t

    if both and not spec.twod_rows:
        x_g, t_g = noised(tgt["x_norm"])
        out = denoise(jnp.concatenate([x_e, x_g]), jnp.concatenate([t_e, t_g]),
                      jnp.concatenate([f_cond_e, f_cond_g]),
                      jnp.concatenate([text_on_e, text_on_g]), rows=2)
        pred = _predictions(out, jnp.tile(batch["K"], (2, 1, 1, 1)),
                            jnp.tile(batch["bbox_xys"], (2, 1, 1)), spec)
        pred_e, pred_g = _rows(pred, 0, B), _rows(pred, B, 2 * B)
        pseudo_x = jax.lax.stop_gradient(pred_e["x_norm"])
    else:
        # Estimation pass: trained in estimation mode, and the pseudo-clean motion of 2D-only
        # rows (A6), which the generation pass then noises and denoises.
        out_e = denoise(x_e, t_e, f_cond_e, text_on_e)
        pred_e = _predictions(out_e, batch["K"], batch["bbox_xys"], spec)
        pseudo_x = jax.lax.stop_gradient(pred_e["x_norm"])
        pred_g = None
        if "generation" in spec.modes:
            x_start = jnp.where(twod[:, None, None], pseudo_x, tgt["x_norm"])
            x_g, t_g = noised(x_start)
            out_g = denoise(x_g, t_g, f_cond_g, text_on_g)
            pred_g = _predictions(out_g, batch["K"], batch["bbox_xys"], spec)
    if "estimation" in spec.modes:
        for k, v in _mode_terms(pred_e, batch, tgt, masks, est_rows, incam, spec,
                                None).items():
            out_terms[f"estimation/{k}"] = v
    if "generation" in spec.modes:
        for k, v in _mode_terms(pred_g, batch, tgt, masks, all_rows, incam, spec,
                                pseudo_x).items():
            out_terms[f"generation/{k}"] = v
    return out_terms


def estimation_mpjpe(model, batch: dict, spec: ObjectiveSpec):
    """Estimation mode (x_t = 0, t = 999, no dropout, conditions as given) -> (MPJPE of the
    root-relative camera-frame 22 joints in mm over valid 3D-supervised frames, the same for
    the statistics' mean motion with the GT shape: the "ignores its input" baseline)."""
    batch = _sanitize(batch)
    B, L = batch["obs"].shape[:2]
    length = batch["length"]
    cond = {"obs": batch["obs"], "f_cliffcam": batch["f_cliffcam"],
            "has_2d": _bool(batch["has_2d_mask"]), "f_imgseq": batch["img_feat"],
            "has_img": _bool(batch["has_img_mask"]), "cam_angvel": batch["cam_angvel"],
            "has_cam": _bool(batch["has_cam_mask"]), "music": batch["music_feat"],
            "has_music": _bool(batch["has_music_mask"]), "audio": batch.get("audio"),
            "has_audio": _bool(batch["has_audio_mask"])}
    feats = model.embed_conditions(cond, deterministic=True)
    out = model(jnp.zeros((B, L, representation.MOTION_DIM), jnp.float32),
                jnp.full((B,), ESTIMATION_T, jnp.int32), feats["f_cond"], length,
                deterministic=True)
    zero_t = jnp.zeros((B, L, 3), jnp.float32)
    gt, _ = body_points(spec.body, batch["betas"],
                        pose_rotations(batch["global_orient_c"], batch["body_pose"]), zero_t)
    gt = gt - gt[..., :1, :]
    mask = losses.valid_mask(length, L) & ~_bool(batch["flag_2d_only"])[:, None]

    def mpjpe(x_norm):
        x = normalization.denormalize(x_norm, spec.stats, spec.clip_std)
        joints, _ = body_points(spec.body, batch["betas"], predicted_rotations(x), zero_t)
        err = jnp.linalg.norm(joints - joints[..., :1, :] - gt, axis=-1).mean(-1)
        return 1000.0 * jnp.sum(jnp.where(mask, err, 0.0)) / jnp.maximum(mask.sum(), 1)

    mean_x = jnp.zeros((B, L, representation.MOTION_DIM), jnp.float32)   # normalised mean
    return mpjpe(out["x0"].astype(jnp.float32)), mpjpe(mean_x)


def weighted_total(terms: dict, weights: dict) -> jax.Array:
    return sum(float(weights[name.split("/", 1)[1]]) * v for name, v in terms.items())


def genmo_loss(model, batch, key, spec: ObjectiveSpec):
    """(total loss, metrics) for the generic train step."""
    terms = genmo_terms(model, batch, key, spec)
    total = weighted_total(terms, spec.weights)
    return total, dict(terms)
