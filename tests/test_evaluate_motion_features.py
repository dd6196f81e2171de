"""Kinetic / geometric dance features: closed-form cases and per-frame loop implementations of the
fairmotion-derived definitions (aistplusplus_api / Bailando `utils/features`)."""

import numpy as np
import pytest

from genmo_jax.evaluate import motion_features as mf


def _dance(rng, frames=14):
    """A plausible-ish skeleton: SMPL-like rest offsets plus smooth random motion, y up."""
    rest = rng.normal(size=(24, 3)) * 0.3 + np.array([0.0, 0.9, 0.0])
    wobble = np.cumsum(rng.normal(size=(frames, 24, 3)) * 0.03, axis=0)
    return rest + wobble


# ---- per-frame loop implementation of the published kinetic definition ----

def _loop_kinetic(pos, dt=1 / 60, bug=False):
    """For each frame i = 1..T-1: mean step over steps k = i-3..i+1 that exist (k -> k+1), and mean
    second difference over m = i-3..i+1 with m+2 < T; per joint [|v_xz|^2, v_y^2, |a|] averaged."""
    frames, joints = pos.shape[:2]
    out = np.zeros((joints, 3))
    for i in range(1, frames):
        steps = [k for k in range(i - 3, i + 2) if 0 <= k <= frames - 2]
        seconds = [m for m in range(i - 3, i + 2) if 0 <= m <= frames - 3]
        for joint in range(joints):
            p = pos[:, joint]
            velocity = sum(p[k + 1] - p[k] for k in steps) / (len(steps) * dt)
            if bug:  # the old revision's precedence slip: v1 = p[m+1] - p[m] / dt
                accs = [((p[m + 2] - p[m + 1]) / dt - (p[m + 1] - p[m] / dt)) / dt for m in seconds]
            else:
                accs = [(p[m + 2] - 2 * p[m + 1] + p[m]) / dt**2 for m in seconds]
            out[joint] += [velocity[0] ** 2 + velocity[2] ** 2, velocity[1] ** 2,
                           np.linalg.norm(sum(accs) / len(accs))]
    return (out / (frames - 1)).reshape(-1).astype(np.float32)


@pytest.mark.parametrize("bug", [False, True])
def test_kinetic_features_match_a_loop_implementation(bug):
    pos = _dance(np.random.default_rng(0), frames=9)[:, :5]
    np.testing.assert_allclose(mf.kinetic_features(pos, expenditure_bug=bug), _loop_kinetic(pos, bug=bug), rtol=1e-5)


def test_kinetic_features_closed_form_for_constant_velocity():
    t = np.arange(20)[:, None, None] / 60.0
    velocity = np.array([3.0, -2.0, 4.0])
    pos = np.zeros((1, 24, 3)) + velocity * t
    feats = mf.kinetic_features(pos).reshape(24, 3)
    np.testing.assert_allclose(feats[:, 0], 3.0**2 + 4.0**2, rtol=1e-5)  # horizontal: x and z
    np.testing.assert_allclose(feats[:, 1], 2.0**2, rtol=1e-5)
    np.testing.assert_allclose(feats[:, 2], 0.0, atol=1e-3)
    assert feats.size == 72
    with pytest.raises(ValueError, match="at least 3 frames"):
        mf.kinetic_features(pos[:2])


# ---- per-frame loop implementation of the 32 relational features (Muller et al. as in AIST++) ----
# Each row: (test, four points, threshold or angle range). Thresholds in body scales: hl = humerus
# length, sw = shoulder width, hw = hip width; speeds use 1/120 s per frame (the reference's).
_FEATURES = [
    ("nmove", ("neck", "rhip", "lhip", "rwrist"), ("hl", 1.8)), ("nmove", ("neck", "lhip", "rhip", "lwrist"), ("hl", 1.8)),
    ("nplane", ("chest", "neck", "neck", "rwrist"), ("hl", 0.2)), ("nplane", ("chest", "neck", "neck", "lwrist"), ("hl", 0.2)),
    ("move", ("belly", "chest", "chest", "rwrist"), ("hl", 1.8)), ("move", ("belly", "chest", "chest", "lwrist"), ("hl", 1.8)),
    ("angle", ("relbow", "rshoulder", "relbow", "rwrist"), (0, 110)),
    ("angle", ("lelbow", "lshoulder", "lelbow", "lwrist"), (0, 110)),
    ("nplane", ("lshoulder", "rshoulder", "lwrist", "rwrist"), ("sw", 2.5)),
    ("move", ("lwrist", "rwrist", "rwrist", "lwrist"), ("hl", 1.4)),
    ("move", ("rwrist", "root", "lwrist", "root"), ("hl", 1.4)), ("move", ("lwrist", "root", "rwrist", "root"), ("hl", 1.4)),
    ("fast", ("rwrist",), ("hl", 2.5)), ("fast", ("lwrist",), ("hl", 2.5)),
    ("plane", ("root", "lhip", "ltoes", "rankle"), ("hl", 0.38)), ("plane", ("root", "rhip", "rtoes", "lankle"), ("hl", 0.38)),
    ("nplane", ("zero", "y_unit", "y_min", "rankle"), ("hl", 1.2)), ("nplane", ("zero", "y_unit", "y_min", "lankle"), ("hl", 1.2)),
    ("nplane", ("lhip", "rhip", "lankle", "rankle"), ("hw", 2.1)),
    ("angle", ("rknee", "rhip", "rknee", "rankle"), (0, 110)), ("angle", ("lknee", "lhip", "lknee", "lankle"), (0, 110)),
    ("fast", ("rankle",), ("hl", 2.5)), ("fast", ("lankle",), ("hl", 2.5)),
    ("angle", ("neck", "root", "rshoulder", "relbow"), (25, 180)), ("angle", ("neck", "root", "lshoulder", "lelbow"), (25, 180)),
    ("angle", ("neck", "root", "rhip", "rknee"), (50, 180)), ("angle", ("neck", "root", "lhip", "lknee"), (50, 180)),
    ("plane", ("rankle", "neck", "lankle", "root"), ("hl", 0.5)),
    ("angle", ("neck", "root", "zero", "y_unit"), (70, 110)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "rwrist"), ("hl", -1.2)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "lwrist"), ("hl", -1.2)),
    ("fast", ("root",), ("hl", 2.3)),
]


def _loop_geometric(positions):
    scales = {"hl": mf.HUMERUS_LENGTH, "sw": mf.SHOULDER_WIDTH, "hw": mf.HIP_WIDTH}
    dt = 1 / 120
    table = np.zeros((len(positions) - 1, len(_FEATURES)))
    for f in range(1, len(positions)):
        now, before = positions[f], positions[f - 1]
        special = {"zero": np.zeros(3), "y_unit": np.array([0.0, 1.0, 0.0]), "minus_y_unit": np.array([0.0, -1.0, 0.0]),
                   "y_min": np.array([0.0, now[:, 1].min(), 0.0])}
        at = lambda name: special[name] if name in special else now[mf.SMPL_JOINT_NAMES.index(name)]
        was = lambda name: before[mf.SMPL_JOINT_NAMES.index(name)]
        for col, (kind, names, param) in enumerate(_FEATURES):
            a, b, c, d = (names + (None,) * 3)[:4]
            if kind == "angle":
                u, w = at(b) - at(a), at(d) - at(c)
                cos = u @ w / (np.linalg.norm(u) * np.linalg.norm(w))
                deg = np.degrees(np.arccos(cos)) if -1 <= cos <= 1 else np.nan
                table[f - 1, col] = param[0] < deg < param[1]
                continue
            threshold = scales[param[0]] * param[1]
            if kind == "fast":
                value = np.linalg.norm(at(a) - was(a)) / dt
            elif kind == "plane":
                normal = np.cross(at(c) - at(a), at(b) - at(a))
                value = normal @ (at(d) - at(a)) / np.linalg.norm(normal)
            elif kind == "nplane":
                normal = at(b) - at(a)
                value = normal @ (at(d) - at(c)) / np.linalg.norm(normal)
            elif kind == "move":  # velocity of c relative to a, along a -> b (d is not used)
                rel = (at(c) - at(a)) - (was(c) - was(a))
                direction = at(b) - at(a)
                value = rel @ direction / np.linalg.norm(direction) / dt
            else:  # nmove: velocity of d relative to a, along the normal of the plane (a, b, c)
                rel = (at(d) - at(a)) - (was(d) - was(a))
                normal = np.cross(at(c) - at(a), at(b) - at(a))
                value = rel @ normal / np.linalg.norm(normal) / dt
            table[f - 1, col] = value > threshold
    return table.mean(0).astype(np.float32)


def test_geometric_features_match_a_loop_implementation():
    pos = _dance(np.random.default_rng(1), frames=25)
    ours = mf.geometric_features(pos)
    assert ours.shape == (32,)
    np.testing.assert_allclose(ours, _loop_geometric(pos), atol=1e-6)
    assert 0.0 < ours.mean() < 1.0  # the motion exercises both outcomes


def test_geometric_fast_root_feature_closed_form():
    # Root moving 1 cm per frame at the reference's 1/120 s per frame = 1.2 m/s; threshold 2.3 hl.
    pos = np.tile(_dance(np.random.default_rng(2), frames=1), (10, 1, 1))
    pos = pos + 0.01 * np.arange(10)[:, None, None] * np.array([1.0, 0.0, 0.0])
    expected = float(1.2 > 2.3 * mf.HUMERUS_LENGTH)
    assert mf.geometric_features(pos)[31] == expected
    fast = pos * np.array([1.0, 1.0, 1.0]) + 0.05 * np.arange(10)[:, None, None] * np.array([1.0, 0.0, 0.0])
    assert mf.geometric_features(fast)[31] == 1.0  # 7.2 m/s is fast
