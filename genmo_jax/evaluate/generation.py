"""Generation metrics: FID, diversity, beat alignment (BAS), physical foot contact (PFC) and
keyframe errors for in-betweening (SPEC B 6.5, PEERS.md 3.2, 3.4, 3.6, 3.7).

Host-side numpy (features are computed once per generated sequence; sequences differ in length).

- `frechet_distance`: FID between Gaussians fitted to two feature sets (mean, `np.cov`
  with ddof 1), in float64. The matrix square root term tr((S1 S2)^1/2) is computed as the sum of
  the square roots of the eigenvalues of S1^1/2 S2 S1^1/2 (symmetric PSD, so `eigh` is exact and
  never complex); this equals `scipy.linalg.sqrtm` (tested) without its fall-backs. Bailando's
  float32 features, eps 1e-5 fall-back and complex returns (PEERS.md 3.7 #6) are not reproduced.
- AIST++ (Bailando `utils/metrics_new.py`): features of at most the first 1200 frames, every
  joint minus the root of frame 0 ("zero start"); both feature sets z-scored with the *GT*
  mean/std (+1e-10); Div = mean distance over all pairs of samples. As in the reference, a
  feature that is constant over the GT set (std 0; likely with few GT dances, since geometric
  features are frequencies of boolean tests) is divided by 1e-10 and dominates FID: use the full
  GT set.
- BAS, three variants (always say which; PEERS.md 3.7 #3):
  * "bailando" (default; Bailando `utils/beat_align_score.py`, as GENMO reports): motion speed
    v_t = mean over joints of |p[t+1] - p[t]| (T-1 values), Gaussian smoothing sigma 5 frames
    (`scipy.ndimage.gaussian_filter`, reflect), motion beats = strict local minima; score =
    mean over music beats (only those before frame T-1, as Bailando truncates the beat track to
    the speed curve's length) of exp(-min_m (m - b)^2 / (2 * 3^2)).
  * "gem": the same without the truncation (GEM `compute_music_metrics`).
  * "fact" (google-research/mint `calculate_beat_scores.py`): v_t = sum over joints of
    |p[t] - p[t-1]| (v_0 = 0), no smoothing, minima with `order=10`; mean over *motion* beats of
    the same Gaussian of the distance to the nearest music beat (0 when no motion beat). FACT
    also drops the first 120 (seed) frames of motion and music before scoring: pass sliced arrays.
  sigma 3 is in frames: at 30 fps (GENMO) it is 100 ms, at 60 fps (Bailando) 50 ms, so BAS is
  comparable only at equal fps.
- PFC (EDGE `eval/eval_pfc.py`): root acceleration by finite differences at `fps`, its up
  component clamped >= 0, |a| divided by its per-sequence max; horizontal per-frame displacement
  (not divided by dt) of ankles/toes 7, 10 (left) and 8, 11 (right), min per foot; PFC = 1e4 x
  mean over sequences of mean_t [min_left * min_right * a_hat]. `up_axis=1` (y, our world and
  GEM's port); EDGE's own script is z-up (`up_axis=2`).
- In-betweening (GENMO App. D: "WA-MPJPE / PA-MPJPE at the keyframes"; the metric code is not
  released): `keyframe_errors` scores the joints at the keyframes only. Choices: WA fits one
  similarity transform on all keyframe joints of a sample (the W*-metrics' whole-chunk fit,
  restricted to keyframes); PA fits one per keyframe (so PA <= WA always); errors in mm, mean
  over keyframes; the "minimum over samples" is taken per test motion and per metric
  (`min_over_samples`), then averaged over test motions.
  Keyframe protocol (`inbetween_keyframes`): 2 keys = frame 0 and a random frame of the second
  half; 5 keys = round((L - 1) i / 4), i = 0..4.
- Control / trajectory keyframes (GMD / CondMDI `data_loaders/humanml/utils/metrics.py`,
  OmniControl): `keyframe_trajectory_errors` gives Traj fail@20/50 cm (strict: a sample fails when
  *any* keyframe misses; non-strict: when the mean error does), Loc fail@20/50 cm (fraction of
  keyframes missed) and the mean keyframe error in metres. Which points are compared is the
  caller's (GMD: the root's xz, `axes=(0, 2)`, the default).
- Foot skating ratio (GMD `calculate_skating_ratio`): feet = joints 10, 11; a foot is in contact
  on step t -> t+1 when its height is < 5 cm at both ends; it skates when its horizontal speed
  exceeds 0.5 m/s on that step *and* in the 5-step moving average (`uniform_filter1d`, zero
  padded); ratio = fraction of steps where either foot skates. The reference runs at 20 fps.
"""

import numpy as np
import scipy.ndimage
import scipy.signal
import scipy.spatial.distance

from genmo_jax.evaluate import motion_features

AIST_MAX_FRAMES = 1200
BAS_VARIANTS = ("bailando", "gem", "fact")
PFC_FOOT_JOINTS = (7, 10, 8, 11)  # left ankle, left toe, right ankle, right toe (SMPL)


# ----- distribution metrics -----


def gaussian_statistics(features):
    """(N, D) features -> mean (D,), covariance (D, D) (ddof 1, as `np.cov(rowvar=False)`)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be (N >= 2, D); got {features.shape}")
    return features.mean(0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance_from_statistics(mean1, cov1, mean2, cov2):
    """|m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), in float64."""
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    if mean1.shape != mean2.shape or cov1.shape != cov2.shape:
        raise ValueError(f"statistics differ in shape: {mean1.shape} vs {mean2.shape}, {cov1.shape} vs {cov2.shape}")
    root1 = _psd_sqrt(cov1)
    eigenvalues = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mean1 - mean2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt)


def frechet_distance(features1, features2):
    """FID between two feature sets (N1, D) and (N2, D)."""
    return frechet_distance_from_statistics(*gaussian_statistics(features1), *gaussian_statistics(features2))


def mean_pairwise_distance(features):
    """Mean Euclidean distance over all pairs i < j of (N, D) features (AIST++ Div)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be (N >= 2, D); got {features.shape}")
    return float(scipy.spatial.distance.pdist(features).mean())


# ----- AIST++ music-to-dance: FID_k, FID_g, Div_k, Div_g -----


def aist_features(joints, max_frames=AIST_MAX_FRAMES, frame_time=1.0 / 60, expenditure_bug=False):
    """One dance (T, 24, 3) metres, y up -> (kinetic (72,), geometric (32,)), Bailando protocol."""
    joints = np.asarray(joints, np.float64)[:max_frames]
    if joints.ndim != 3 or joints.shape[1:] != (24, 3):
        raise ValueError(f"aist_features needs (T, 24, 3) SMPL joints; got {joints.shape}")
    joints = joints - joints[:1, :1]  # zero start: every joint minus the frame-0 root
    kinetic = motion_features.kinetic_features(joints, frame_time, expenditure_bug=expenditure_bug)
    return kinetic, motion_features.geometric_features(joints)


def normalize_with_reference(reference, other):
    """z-score both sets with the reference (GT) set's mean and std (+1e-10), as Bailando."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    mean, std = reference.mean(0), reference.std(0)
    return (reference - mean) / (std + 1e-10), (other - mean) / (std + 1e-10)


def dance_feature_metrics(gen_kinetic, gen_geometric, gt_kinetic, gt_geometric):
    """FID_k, FID_g (GENMO: FID_m), Div_k, Div_g and the GT diversities from feature sets (N, D)."""
    gt_k, gen_k = normalize_with_reference(gt_kinetic, gen_kinetic)
    gt_g, gen_g = normalize_with_reference(gt_geometric, gen_geometric)
    return {
        "fid_k": frechet_distance(gen_k, gt_k),
        "fid_g": frechet_distance(gen_g, gt_g),
        "div_k": mean_pairwise_distance(gen_k),
        "div_g": mean_pairwise_distance(gen_g),
        "div_k_gt": mean_pairwise_distance(gt_k),
        "div_g_gt": mean_pairwise_distance(gt_g),
    }


# ----- beat alignment -----


def beats_from_onehot(beat_column):
    """A per-frame 0/1 beat track (e.g. column 53 of the Bailando music feature) -> frame indices."""
    return np.flatnonzero(np.asarray(beat_column).astype(bool))


def motion_beats(joints, variant="bailando"):
    """Frame indices of motion beats (local minima of joint speed) for (T, J, 3) joints."""
    if variant not in BAS_VARIANTS:
        raise ValueError(f"BAS variant must be one of {BAS_VARIANTS}; got {variant!r}")
    joints = np.asarray(joints, np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be (T, J, 3); got {joints.shape}")
    speeds = np.linalg.norm(joints[1:] - joints[:-1], axis=-1)  # (T-1, J)
    if variant == "fact":
        envelope = np.concatenate([np.zeros(1), speeds.sum(1)])
        return scipy.signal.argrelextrema(envelope, np.less, order=10)[0]
    envelope = scipy.ndimage.gaussian_filter(speeds.mean(1), 5)
    return scipy.signal.argrelextrema(envelope, np.less)[0]


def beat_alignment_score(music_beats, joints, variant="bailando", sigma=3.0):
    """BAS of one sequence: music beat frame indices (K,), joints (T, J, 3) at the music's fps."""
    beats = motion_beats(joints, variant)
    music = np.asarray(music_beats, np.float64).reshape(-1)
    if variant == "bailando":
        music = music[music < len(joints) - 1]
    if variant == "fact":
        if beats.size == 0:
            return 0.0
        if music.size == 0:
            raise ValueError("beat_alignment_score: no music beats")
        dist = np.abs(beats[:, None] - music[None, :]).min(1)
    else:
        if music.size == 0:
            raise ValueError("beat_alignment_score: no music beats inside the motion")
        if beats.size == 0:
            return 0.0  # exp(-inf): the reference's np.min of an empty array would raise
        dist = np.abs(music[:, None] - beats[None, :]).min(1)
    return float(np.mean(np.exp(-(dist**2) / (2 * sigma**2))))


# ----- physical foot contact -----


def physical_foot_contact_sequence(joints, fps=30.0, up_axis=1, foot_joints=PFC_FOOT_JOINTS):
    """EDGE's per-sequence PFC term (before the 1e4 scale) for (T, 24, 3) joints in metres."""
    joints = np.asarray(joints, np.float64)
    if joints.ndim != 3 or joints.shape[0] < 3 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be (T >= 3, J, 3); got {joints.shape}")
    dt = 1.0 / fps
    root_velocity = (joints[1:, 0] - joints[:-1, 0]) / dt
    root_accel = (root_velocity[1:] - root_velocity[:-1]) / dt  # (T-2, 3)
    root_accel[:, up_axis] = np.maximum(root_accel[:, up_axis], 0)
    root_accel = np.linalg.norm(root_accel, axis=-1)
    root_accel = root_accel / root_accel.max()  # NaN for a motion without acceleration, as EDGE
    flat = [a for a in range(3) if a != up_axis]
    feet = joints[:, list(foot_joints)][..., flat]
    foot_speed = np.linalg.norm(feet[2:] - feet[1:-1], axis=-1)  # (T-2, 4) metres per frame
    left = np.minimum(foot_speed[:, 0], foot_speed[:, 1])
    right = np.minimum(foot_speed[:, 2], foot_speed[:, 3])
    return float(np.mean(left * right * root_accel))


def physical_foot_contact(joint_sequences, fps=30.0, up_axis=1):
    """PFC = 1e4 x mean over sequences of the per-sequence term (EDGE)."""
    terms = [physical_foot_contact_sequence(j, fps, up_axis) for j in joint_sequences]
    if not terms:
        raise ValueError("physical_foot_contact needs at least one sequence")
    return float(np.mean(terms) * 1e4)


# ----- in-betweening -----


def inbetween_keyframes(length, num_keyframes, rng):
    """GENMO's keyframe protocol: 2 = frame 0 + a random frame of the second half; 5 = evenly spaced."""
    if num_keyframes == 2:
        return np.array([0, int(rng.integers(length // 2, length))])
    if num_keyframes == 5:
        return np.round((length - 1) * np.arange(5) / 4).astype(int)
    raise ValueError(f"num_keyframes must be 2 or 5 (GENMO's protocol); got {num_keyframes}")


def _similarity_align(source, target, per_frame):
    """Umeyama similarity of source onto target, (K, J, 3) in float64; one fit or one per frame."""
    src = source if per_frame else source.reshape(1, -1, 3)
    dst = target if per_frame else target.reshape(1, -1, 3)
    mean_s, mean_d = src.mean(1, keepdims=True), dst.mean(1, keepdims=True)
    xs, xd = src - mean_s, dst - mean_d
    u, d, vh = np.linalg.svd(np.einsum("bni,bnj->bij", xd, xs))
    signs = np.ones_like(d)
    signs[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vh))
    rotation = np.einsum("bij,bj,bjk->bik", u, signs, vh)
    scale = (d * signs).sum(1) / (xs**2).sum((1, 2))
    aligned = scale[:, None, None] * np.einsum("bij,bnj->bni", rotation, xs) + mean_d
    return aligned.reshape(source.shape)


def keyframe_errors(pred_joints, gt_joints, keyframes):
    """{"wa_mpjpe", "pa_mpjpe"} in mm at the keyframes of one sample: joints (T, J, 3) metres."""
    pred = np.asarray(pred_joints, np.float64)[np.asarray(keyframes)]
    gt = np.asarray(gt_joints, np.float64)[np.asarray(keyframes)]
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"keyframe joints must both be (K, J, 3); got {pred.shape} and {gt.shape}")
    error = lambda aligned: float(np.linalg.norm(aligned - gt, axis=-1).mean() * 1000)
    return {"wa_mpjpe": error(_similarity_align(pred, gt, False)),
            "pa_mpjpe": error(_similarity_align(pred, gt, True))}


def min_over_samples(per_sample_errors):
    """[{metric: value} per noise sample] -> {metric: min over samples} (GENMO's protocol)."""
    if not per_sample_errors:
        raise ValueError("min_over_samples needs at least one sample")
    return {k: min(sample[k] for sample in per_sample_errors) for k in per_sample_errors[0]}


# ----- trajectory control and foot skating (GMD / CondMDI / OmniControl) -----


def keyframe_trajectory_errors(pred, gt, keyframe_mask, axes=(0, 2), strict=True):
    """Per-sample control errors at keyframes: pred, gt (B, T, 3) points in metres, mask (B, T).

    Returns {"traj_fail_20cm", "traj_fail_50cm", "loc_fail_20cm", "loc_fail_50cm", "mean_error"},
    each (B,): averaged over samples they are the tables' numbers.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    mask = np.asarray(keyframe_mask, bool)
    if pred.shape != gt.shape or pred.ndim != 3 or mask.shape != pred.shape[:2]:
        raise ValueError(f"need pred, gt (B, T, 3) and keyframe_mask (B, T); got {pred.shape}, {gt.shape}, {mask.shape}")
    error = np.linalg.norm(pred[..., list(axes)] - gt[..., list(axes)], axis=-1)
    count = mask.sum(-1)
    mean_error = np.where(count > 0, np.where(mask, error, 0).sum(-1) / np.maximum(count, 1), 0.0)
    out = {"mean_error": mean_error}
    for threshold, name in [(0.2, "20cm"), (0.5, "50cm")]:
        missed = mask & (error > threshold)
        out[f"traj_fail_{name}"] = (missed.any(-1) if strict else mean_error > threshold).astype(np.float64)
        out[f"loc_fail_{name}"] = np.where(count > 0, missed.sum(-1) / np.maximum(count, 1), 0.0)
    return out


def skating_ratio(joints, fps=20.0, feet=(10, 11), up_axis=1, height_threshold=0.05, speed_threshold=0.5,
                  window=5):
    """Fraction of steps t -> t+1 on which a grounded foot skates, for joints (T, J, 3) in metres."""
    joints = np.asarray(joints, np.float64)
    if joints.ndim != 3 or joints.shape[0] < 2 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be (T >= 2, J, 3); got {joints.shape}")
    flat = [a for a in range(3) if a != up_axis]
    foot = joints[:, list(feet)]  # (T, 2, 3)
    speed = np.linalg.norm(foot[1:][..., flat] - foot[:-1][..., flat], axis=-1) * fps  # (T-1, 2) m/s
    average = scipy.ndimage.uniform_filter1d(speed, size=window, axis=0, mode="constant")
    height = foot[..., up_axis]
    grounded = (height[:-1] < height_threshold) & (height[1:] < height_threshold)
    skating = grounded & (speed > speed_threshold) & (average > speed_threshold)
    return float(skating.any(-1).mean())
