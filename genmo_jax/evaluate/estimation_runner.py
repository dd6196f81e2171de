"""Runs an exported params folder on the official estimation test files and scores it (SPEC B 6).

    python -m genmo_jax.evaluate --params DIR --benchmark {3dpw,emdb1,emdb2,rich} --data DIR \
        [--body SMPL_PATH] [--camera slam|gt] [--static-joint-fix] [--contact-ik] [--flip-test] [--out DIR]

Per sequence (batch 1, full length, as the release's test stage):
1. Inputs (`test_files`): COCO-17 keypoints, boxes, intrinsics, image features and the camera
   rotation (DROID-SLAM by default, `--camera gt` for the GT extrinsics) become the model's
   conditions exactly as `genmo_jax.sample` builds them. With `--flip-test` the flipped inputs run
   in the same call as a second batch row.
2. One estimation pass (x_t = 0, t = 999), jitted once per *length bucket*: sequences are
   zero-padded to the bucket (`length_bucket`) and `length` masks the padding, so a benchmark of
   many lengths compiles a handful of programs; attention is windowed for L > 120, linear in L.
3. Decoding (`decode_estimation`, inside the same jit): de-normalise, 151-d -> SMPL params,
   camera translation from the weak-perspective head and the box, world root from the GV rollout
   with the benchmark camera's angular velocity (the world is the first frame's GV frame; the
   world metrics align it to the GT).
4. Flip test (`flip_test`): the flipped pass is mirrored back and averaged; the static-joint fix
   (`postprocess`) and contact IK (`contact_ik`) act on the world params, in that order (the
   release's). The IK body pose replaces the pose of both the world and the camera params.
5. Meshes: predictions with the params folder's body model, GT with `--body` (a file, or a folder
   with SMPL_{MALE,FEMALE,NEUTRAL}.pkl for EMDB / 3DPW, SMPL-X for RICH; the release scores RICH GT
   with the neutral SMPL-X). Without `--body` the GT uses the prediction's body model (numbers are
   then only meaningful for fixtures). Joints: `--joint-regressor` (the benchmark's 24- or
   14-joint SMPL regressor, applied to 6890-vertex SMPL meshes; `--smplx2smpl` maps 10475-vertex
   SMPL-X meshes first; both are found without the flags when the release's files
   `smpl_neutral_J_regressor.pt` / `smpl_3dpw14_J_regressor_sparse.pt` / `smplx2smpl_sparse.pt` lie
   in the --body folder or in inputs/checkpoints/body_models beside the data), otherwise the
   body model's 24 FK joints (3DPW: their 14 LSP counterparts).
   PVE needs equal vertex counts, foot sliding SMPL's 6890 vertices; otherwise they are omitted
   and the table says so.
6. Scoring with `report.score_estimation` (frame-weighted over all sequences), the same table and
   JSON as the prediction-file path; `--save-predictions` also writes those prediction files.
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax.body import smpl
from genmo_jax.evaluate import benchmarks, contact_ik, flip_test, joint_sets, postprocess, report, test_files
from genmo_jax.motion import camera as camera_lib
from genmo_jax.motion.normalization import NormStats, denormalize
from genmo_jax.motion.representation import MOTION_DIM, decode_motion
from genmo_jax.motion.rollout import rollout_world

SMPL_NUM_VERTICES = 6890
SMPLX_NUM_VERTICES = 10475
# 3DPW's 14 LSP-style joints as SMPL joints (used only without the benchmark's regressor):
# R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder, L shoulder,
# L elbow, L wrist, neck, head. Pelvis = mean of entries 2, 3 (the hips), as the 3DPW set.
LSP14_FROM_SMPL24 = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15)
PARAM_KEYS = ("body_pose", "betas", "global_orient", "transl")


def add_arguments(parser):
    """The estimation runner's flags (the shared ones, --params/--data/--out/--chunking/
    --joint-regressor, belong to `genmo_jax.evaluate.__main__`)."""
    group = parser.add_argument_group("estimation runner (--params with 3dpw, emdb1, emdb2, rich)")
    group.add_argument("--body", help="GT body model: SMPL file or folder with SMPL_{MALE,FEMALE,NEUTRAL}.pkl "
                       "(EMDB, 3DPW) / SMPL-X (RICH); default: the params folder's body model")
    group.add_argument("--camera", default="slam", choices=("slam", "gt"),
                       help="camera rotation fed to the model: DROID-SLAM trajectories (paper) or GT extrinsics")
    group.add_argument("--static-joint-fix", action="store_true", help="SPEC B 6.4 step 1 (world translation)")
    group.add_argument("--contact-ik", action="store_true", help="SPEC B 6.4 step 2 (CCD IK on four chains)")
    group.add_argument("--flip-test", action="store_true", help="SPEC B 6.4 step 3 (EMDB, 3DPW)")
    group.add_argument("--rich-resource", help="RICH: GEM's gem/datasets/rich/resource folder "
                       "(cam2params.pt, w2az_sahmr.json, test.txt); default DATA/resource")
    group.add_argument("--smplx2smpl", help="(6890, 10475) SMPL-X -> SMPL vertex map (.pt/.npz/.npy)")
    group.add_argument("--save-predictions", action="store_true",
                       help="also write <out>/<benchmark>_predictions/<seq>.npz (the prediction-file format)")
    return parser


def length_bucket(num_frames, min_bucket=32):
    """Padded length for a sequence of `num_frames`: the next multiple of 1/8 of the next power of
    two (and of `min_bucket`), so padding adds at most ~1/8 of the next power of two and a benchmark
    compiles few programs."""
    if num_frames < 1:
        raise ValueError(f"a sequence needs at least one frame; got {num_frames}")
    power = 2 ** math.ceil(math.log2(max(num_frames, 1)))
    step = max(min_bucket, power // 8)
    return int(math.ceil(num_frames / step) * step)


def decode_estimation(out, stats, clip_std, cam_angvel, bbx_xys, K, length):
    """Model outputs -> camera and world SMPL params (jnp, jit-safe).

    out: {"x0" (B, L, 151) normalised, "pred_cam" (B, L, 3), "contact_logits" (B, L, 6)};
    cam_angvel (B, L, 6); bbx_xys (B, L, 3) px; K (B, L, 3, 3); length (B,) valid frames.
    Returns {"camera": params, "world": params, "contact_logits"}, params = {body_pose (B, L, 63),
    betas (B, L, 10), global_orient (B, L, 3), transl (B, L, 3)}.
    """
    dec = decode_motion(denormalize(out["x0"], stats, clip_std))
    valid = (jnp.arange(dec["betas"].shape[1])[None, :] < length[:, None])[..., None]
    betas = jnp.sum(dec["betas"] * valid, 1, keepdims=True) / jnp.maximum(jnp.sum(valid, 1, keepdims=True), 1)
    betas = jnp.broadcast_to(betas, dec["betas"].shape)
    world = rollout_world(dec["global_orient_gv"], dec["global_orient_c"], cam_angvel, dec["local_transl_vel"],
                          length=length)
    transl_c = camera_lib.pred_cam_to_transl(out["pred_cam"], bbx_xys, K)
    common = {"body_pose": dec["body_pose"], "betas": betas}
    return {"camera": dict(common, global_orient=dec["global_orient_c"], transl=transl_c),
            "world": dict(common, global_orient=world["global_orient"], transl=world["transl"]),
            "contact_logits": out["contact_logits"]}


def conditions(seq, inputs=None, bucket=None):
    """Raw model conditions (1, bucket, ...) for a sequence (or its flipped inputs), as `sample`
    builds them, computed on inputs padded to `bucket` frames (default: no padding) so that one
    program serves every length of the bucket. Padded frames are masked by `length` in the model;
    the camera angular velocity is computed with the valid length (last valid frame repeated)."""
    from genmo_jax import sample, timeline

    inputs = inputs or {"kp2d": seq.kp2d, "bbx_xys": seq.bbx_xys, "f_imgseq": seq.f_imgseq, "R_w2c": seq.R_w2c}
    num = seq.num_frames
    bucket = bucket or num
    padded = {k: _pad_frames(np.asarray(v, np.float32)[None], bucket, edge=True)[0] for k, v in inputs.items()}
    tl = timeline.Timeline(num_frames=bucket, estimation=True, keypoints=padded["kp2d"], bbox=padded["bbx_xys"],
                           intrinsics=seq.K, image_size=tuple(seq.image_size), image_features=padded["f_imgseq"],
                           R_w2c=padded["R_w2c"], static_camera=False)
    cond = sample.build_conditions(tl)
    cond["cam_angvel"] = np.asarray(camera_lib.cam_angvel_from_R_w2c(padded["R_w2c"][None], length=np.array([num])))
    return cond


def _pad_frames(array, size, edge=False):
    """(B, L, ...) -> (B, size, ...): the last frame repeated (edge) or zeros appended."""
    array = np.asarray(array)
    pad = size - array.shape[1]
    if pad == 0:
        return array
    if edge:
        tail = np.repeat(array[:, -1:], pad, axis=1)
    else:
        tail = np.zeros((array.shape[0], pad) + array.shape[2:], array.dtype)
    return np.concatenate([array, tail], axis=1)


@functools.partial(jax.jit, static_argnames=("graphdef", "clip_std"))
def _estimate_and_decode(graphdef, state, stats, cond, length, bbx_xys, K, clip_std):
    # Module level with the graph definition static: equal models share the compiled program.
    from genmo_jax.diffusion.sampler import estimate

    net = nnx.merge(graphdef, state)
    feats = net.embed_conditions(cond, deterministic=True)["f_cond"]
    shape = (feats.shape[0], feats.shape[1], MOTION_DIM)
    out = estimate(lambda x_t, t: net(x_t, t, feats, length, deterministic=True), shape)
    return decode_estimation(out, stats, clip_std, cond["cam_angvel"], bbx_xys, K, length)


class Estimator:
    """The jitted estimation pass + decoding of one params folder; compiles once per length bucket."""

    def __init__(self, model, config, stats):
        self.graphdef, self.state = nnx.split(model)
        self.stats = NormStats(mean=jnp.asarray(stats["mean"]), std=jnp.asarray(stats["std"]))
        self.clip_std = bool(config.model.get("clip_std", True))
        self.buckets = set()

    def predict(self, seq, flip=False):
        """{"camera", "world": params (L, ...) numpy, "contact_logits" (L, 6)}; with flip=True also
        "camera_flipped" (the flipped pass's camera params, not yet mirrored). The flipped pass is a
        second call of the same compiled program (batch 1, as the release's test stage)."""
        num = seq.num_frames
        bucket = length_bucket(num)
        self.buckets.add(bucket)
        result = self._one_pass(conditions(seq, bucket=bucket), seq.bbx_xys, seq.K, num, bucket)
        if flip:
            if seq.flip is None:
                raise ValueError(f"{seq.name}: --flip-test needs the flipped inputs (imgfeats/*_flip)")
            flipped = self._one_pass(conditions(seq, seq.flip, bucket), seq.flip["bbx_xys"], seq.K, num, bucket)
            result["camera_flipped"] = flipped["camera"]
        return result

    def _one_pass(self, cond, bbx_xys, K, num, bucket):
        bbx = _pad_frames(np.asarray(bbx_xys, np.float32)[None], bucket, edge=True)
        K = np.broadcast_to(np.asarray(K, np.float32), (1, bucket, 3, 3))
        length = np.full((1,), num, np.int32)
        out = jax.device_get(_estimate_and_decode(self.graphdef, self.state, self.stats, cond, length, bbx, K,
                                                  self.clip_std))
        return {"camera": {k: v[0, :num] for k, v in out["camera"].items()},
                "world": {k: v[0, :num] for k, v in out["world"].items()},
                "contact_logits": out["contact_logits"][0, :num]}


_flip_average = jax.jit(flip_test.flip_test_average)


def postprocess_prediction(pred, body, flip=False, static_joint_fix=False, use_contact_ik=False):
    """Flip-test averaging, then the static-joint fix and contact IK (SPEC B 6.4), numpy in and out."""
    camera, world = dict(pred["camera"]), dict(pred["world"])
    logits = pred["contact_logits"]
    # Every step runs on arrays padded to the length bucket (edge frames) to share compilations:
    # the flip average is per frame, the static-joint fix takes the valid length, the IK is causal.
    num, bucket = logits.shape[0], length_bucket(logits.shape[0])
    pad = lambda a: _pad_frames(np.asarray(a, np.float32)[None], bucket, edge=True)[0]  # noqa: E731
    if flip:
        averaged = _flip_average({k: pad(v) for k, v in camera.items()},
                                 {k: pad(v) for k, v in pred["camera_flipped"].items()})
        camera = {k: np.asarray(v)[:num] for k, v in averaged.items()}
        world = {k: np.asarray(v) for k, v in flip_test.apply_to_world(world, camera).items()}
    if static_joint_fix:
        padded = {k: pad(world[k]) for k in PARAM_KEYS}
        joints = smpl.skeleton_forward(body, padded["betas"], padded["global_orient"], padded["body_pose"],
                                       padded["transl"])
        world["transl"] = np.asarray(postprocess.static_joint_translation(joints, padded["transl"], pad(logits),
                                                                          length=num))[:num]
    if use_contact_ik:
        padded = {k: pad(world[k]) for k in PARAM_KEYS}
        body_pose = np.asarray(contact_ik.contact_ik(body, padded["betas"], padded["global_orient"],
                                                     padded["body_pose"], padded["transl"], pad(logits)))[:num]
        world["body_pose"] = body_pose
        camera["body_pose"] = body_pose
    return camera, world


def _apply_T(T, points):
    """(L, 4, 4) or (4, 4) rigid maps applied to points (L, N, 3)."""
    T = np.asarray(T, np.float32)
    R, t = T[..., :3, :3], T[..., :3, 3]
    if R.ndim == 2:
        return points @ R.T + t
    return np.einsum("lij,lnj->lni", R, points) + t[:, None, :]


class MeshScorer:
    """Joints and vertices of predictions and GT in the benchmark's joint set (see the module doc)."""

    def __init__(self, pred_body, gt_body_path, benchmark, joint_regressor=None, smplx2smpl=None):
        self.pred_body = pred_body
        self.gt_body_path = gt_body_path
        self.benchmark = benchmark
        self.regressor = None if joint_regressor is None else np.asarray(joint_regressor, np.float32)
        self.smplx2smpl = smplx2smpl
        self._gt_bodies = {}
        self.notes = []
        if self.regressor is None:
            if pred_body.num_joints != 24:
                raise ValueError(f"the params folder's body model has {pred_body.num_joints} joints: give "
                                 "--joint-regressor (the benchmark's SMPL regressor) and --smplx2smpl")
            self.notes.append("Joints: the body models' 24 FK joints" + (
                " mapped to 3DPW's 14 LSP joints" if benchmark.joint_set == "3dpw14" else "")
                + " (no --joint-regressor given or found).")
        else:
            self.notes.append(f"Joints: regressed from SMPL vertices with the given {self.regressor.shape[0]}-joint "
                              "regressor.")

    def gt_body(self, gender, model_kind):
        if self.gt_body_path is None:
            return self.pred_body
        # RICH: the release scores GT with the neutral SMPL-X model for every gender.
        gender = "neutral" if model_kind == "smplx" else (gender if gender in ("male", "female") else "neutral")
        if gender not in self._gt_bodies:
            self._gt_bodies[gender] = smpl.load_body_model(self.gt_body_path, gender=gender)
        return self._gt_bodies[gender]

    def _mesh(self, body, params, bucket):
        padded = {k: _pad_frames(np.asarray(params[k], np.float32)[None], bucket, edge=True)[0] for k in PARAM_KEYS}
        full = 3 * (body.num_joints - 1)
        if padded["body_pose"].shape[1] == 63 and full > 63:  # explicit zero rotations: one program for both
            padded["body_pose"] = np.pad(padded["body_pose"], ((0, 0), (0, full - 63)))
        out = smpl.forward(body, padded["betas"], padded["global_orient"], padded["body_pose"], padded["transl"])
        num = params["transl"].shape[0]
        vertices = np.asarray(out["vertices"])[:num]
        joints = np.asarray(out["joints"])[:num]
        if vertices.shape[1] == SMPLX_NUM_VERTICES and self.smplx2smpl is not None:
            flat = vertices.transpose(1, 0, 2).reshape(SMPLX_NUM_VERTICES, -1)
            vertices = np.asarray(self.smplx2smpl @ flat, np.float32).reshape(-1, num, 3).transpose(1, 0, 2)
        return vertices, joints

    def _joints(self, vertices, fk_joints):
        if self.regressor is not None:
            if self.regressor.shape[1] != vertices.shape[1]:
                raise ValueError(f"--joint-regressor expects {self.regressor.shape[1]} vertices; the mesh has "
                                 f"{vertices.shape[1]} (give --smplx2smpl for SMPL-X meshes)")
            return np.einsum("jv,lvc->ljc", self.regressor, vertices)
        joints = fk_joints[:, :24]
        if self.benchmark.joint_set == "3dpw14":
            joints = joints[:, np.array(LSP14_FROM_SMPL24)]
        return joints

    def arrays(self, seq, camera, world):
        """The prediction-file arrays of one sequence for `report.score_estimation`."""
        bucket = length_bucket(seq.num_frames)
        gt_body = self.gt_body(seq.gt_gender, seq.gt_model)
        gt_vertices_w, gt_fk_w = self._mesh(gt_body, seq.gt_params, bucket)
        out = {"mask": seq.mask}
        if self.benchmark.camera:
            pred_v, pred_fk = self._mesh(self.pred_body, camera, bucket)
            gt_v = _apply_T(seq.gt_T_w2c, gt_vertices_w)
            gt_fk = _apply_T(seq.gt_T_w2c, gt_fk_w)
            out.update(pred_joints=self._joints(pred_v, pred_fk), gt_joints=self._joints(gt_v, gt_fk))
            if pred_v.shape == gt_v.shape:
                out.update(pred_vertices=pred_v, gt_vertices=gt_v)
        if self.benchmark.world:
            pred_v, pred_fk = self._mesh(self.pred_body, world, bucket)
            gt_v = _apply_T(seq.gt_T_w2eval, gt_vertices_w)
            gt_fk = _apply_T(seq.gt_T_w2eval, gt_fk_w)
            out.update(pred_joints_world=self._joints(pred_v, pred_fk), gt_joints_world=self._joints(gt_v, gt_fk))
            if pred_v.shape == gt_v.shape and pred_v.shape[1] == SMPL_NUM_VERTICES:
                out.update(pred_vertices_world=pred_v, gt_vertices_world=gt_v)
        return {k: np.asarray(v) for k, v in out.items()}

    def vertex_notes(self, sample):
        notes = []
        if self.benchmark.camera and "pred_vertices" not in sample:
            notes.append("PVE omitted: prediction and GT meshes have different vertex counts.")
        if self.benchmark.world and "pred_vertices_world" not in sample:
            notes.append("Foot sliding omitted: it needs 6890-vertex SMPL meshes (SMPL bodies, or --smplx2smpl).")
        return notes


REGRESSOR_FILES = {"smpl24": "smpl_neutral_J_regressor.pt", "3dpw14": "smpl_3dpw14_J_regressor_sparse.pt"}
SMPLX2SMPL_FILE = "smplx2smpl_sparse.pt"


def find_body_resource(args, name):
    """The release's body-model resource `name` when present: in the --body folder (or beside a
    --body file), or in `inputs/checkpoints/body_models/` of the release's layout, i.e.
    DATA/../../checkpoints/body_models for DATA = inputs/<dataset>/hmr4d_support. None otherwise."""
    folders = []
    if args.body:
        folders.append(args.body if os.path.isdir(args.body) else os.path.dirname(os.path.abspath(args.body)))
    if args.data:
        folders.append(os.path.join(os.path.abspath(args.data), os.pardir, os.pardir, "checkpoints", "body_models"))
    for folder in folders:
        path = os.path.normpath(os.path.join(folder, name))
        if os.path.isfile(path):
            return path
    return None


def pad_for_scoring(arrays):
    """Per-frame arrays padded to the length bucket with invalid frames (mask False): the metrics drop
    invalid frames first, so the scores are unchanged and each bucket compiles the metrics once."""
    num = arrays["mask"].shape[0]
    bucket = length_bucket(num)
    out = {k: _pad_frames(v[None], bucket, edge=True)[0] for k, v in arrays.items() if k != "mask"}
    out["mask"] = np.concatenate([arrays["mask"], np.zeros(bucket - num, bool)])
    return out


def evaluate_params(args, benchmark):
    """Runs `args.params` on `benchmark`'s test files; returns (ours: {metric: value}, settings: dict)."""
    from genmo_jax.body.select import body_model_from_config, body_model_path
    from genmo_jax.params_io import load_params

    bench = benchmarks.get_benchmark(benchmark)
    if bench.task != "estimation":
        raise ValueError(f"{benchmark!r} is not an estimation benchmark")
    if not args.data:
        raise ValueError("--data DIR (the benchmark's hmr4d_support folder) is required with --params")
    sequences, missing = test_files.read_benchmark(benchmark, args.data, camera=args.camera, flip=args.flip_test,
                                                   rich_resource=args.rich_resource)
    exported = load_params(args.params)
    body_config = exported.config.get("body", {"model": "open"})
    pred_body = body_model_from_config(body_config)
    regressor_path = getattr(args, "joint_regressor", None) or find_body_resource(
        args, REGRESSOR_FILES[bench.joint_set])
    regressor = None
    if regressor_path:
        regressor = joint_sets.load_matrix(regressor_path)
    smplx2smpl_path = args.smplx2smpl or find_body_resource(args, SMPLX2SMPL_FILE)
    smplx2smpl = joint_sets.load_matrix(smplx2smpl_path, keep_sparse=True) if smplx2smpl_path else None
    scorer = MeshScorer(pred_body, args.body, bench, regressor, smplx2smpl)
    estimator = Estimator(exported.model, exported.config, exported.stats)
    per_sequence = []
    save_dir = os.path.join(args.out, f"{benchmark}_predictions") if args.save_predictions else None
    for seq in sequences:
        pred = estimator.predict(seq, flip=args.flip_test)
        camera, world = postprocess_prediction(pred, pred_body, flip=args.flip_test,
                                               static_joint_fix=args.static_joint_fix,
                                               use_contact_ik=args.contact_ik)
        arrays = scorer.arrays(seq, camera, world)
        per_sequence.append(arrays)
        if save_dir:
            os.makedirs(save_dir, exist_ok=True)
            np.savez(os.path.join(save_dir, seq.name.replace("/", "@") + ".npz"), **arrays)
    ours = report.score_estimation([pad_for_scoring(a) for a in per_sequence], bench, chunking=args.chunking)
    notes = scorer.notes + scorer.vertex_notes(per_sequence[0])
    if missing:
        notes.append(f"Sequences: {len(sequences)} present, {len(missing)} of the split missing from the files "
                     f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}).")
    if args.body is None:
        notes.append("GT meshes use the params folder's body model (no --body): numbers are not comparable "
                     "with the paper's.")
    settings = {
        "params": os.path.abspath(args.params), "data": os.path.abspath(args.data), "camera": args.camera,
        "flip_test": bool(args.flip_test), "static_joint_fix": bool(args.static_joint_fix),
        "contact_ik": bool(args.contact_ik), "chunking": args.chunking, "sequences": len(sequences),
        "missing_sequences": list(missing), "prediction_body": body_model_path(body_config),
        "gt_body": args.body or "prediction body", "joint_regressor": regressor_path,
        "smplx2smpl": smplx2smpl_path, "length_buckets": sorted(estimator.buckets), "notes": notes,
    }
    return ours, settings
