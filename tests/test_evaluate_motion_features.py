"""Kinetic / geometric dance features: closed-form cases and a loop transcription of the
fairmotion-derived reference (aistplusplus_api / Bailando `utils/features`)."""

import numpy as np
import pytest

from genmo_jax.evaluate import motion_features as mf


def _dance(rng, frames=14):
    """A plausible-ish skeleton: SMPL-like rest offsets plus smooth random motion, y up."""
    rest = rng.normal(size=(24, 3)) * 0.3 + np.array([0.0, 0.9, 0.0])
    wobble = np.cumsum(rng.normal(size=(frames, 24, 3)) * 0.03, axis=0)
    return rest + wobble


# ---- loop transcription of the reference (kinetic.py + utils.py, bug-free revision) ----

def _ref_avg_velocity(pos, i, joint, window, dt):
    total, count = np.zeros(3), 0
    for j in range(-window, window + 1):
        if i + j - 1 < 0 or i + j >= len(pos):
            continue
        total += pos[i + j][joint] - pos[i + j - 1][joint]
        count += 1
    return total / (count * dt)


def _ref_avg_accel(pos, i, joint, window, dt, bug):
    total, count = np.zeros(3), 0
    for j in range(-window, window + 1):
        if i + j - 1 < 0 or i + j + 1 >= len(pos):
            continue
        v2 = (pos[i + j + 1][joint] - pos[i + j][joint]) / dt
        if bug:
            v1 = pos[i + j][joint] - pos[i + j - 1][joint] / dt
        else:
            v1 = (pos[i + j][joint] - pos[i + j - 1][joint]) / dt
        total += (v2 - v1) / dt
        count += 1
    return np.linalg.norm(total / count)


def _ref_kinetic(pos, dt=1 / 60, bug=False):
    out = []
    for joint in range(pos.shape[1]):
        h = v = e = 0.0
        for i in range(1, len(pos)):
            vel = _ref_avg_velocity(pos, i, joint, 2, dt)
            h += vel[0] ** 2 + vel[2] ** 2
            v += vel[1] ** 2
            e += _ref_avg_accel(pos, i, joint, 2, dt, bug)
        out += [h / (len(pos) - 1), v / (len(pos) - 1), e / (len(pos) - 1)]
    return np.array(out, np.float32)


@pytest.mark.parametrize("bug", [False, True])
def test_kinetic_features_match_reference_loops(bug):
    pos = _dance(np.random.default_rng(0), frames=9)[:, :5]
    np.testing.assert_allclose(mf.kinetic_features(pos, expenditure_bug=bug), _ref_kinetic(pos, bug=bug), rtol=1e-5)


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


# ---- loop transcription of manual_new.py / utils.py (32 Muller-style features) ----

def _ref_geometric(positions):
    names = list(mf.SMPL_JOINT_NAMES)
    hl, sw, hw, tpf = mf.HUMERUS_LENGTH, mf.SHOULDER_WIDTH, mf.HIP_WIDTH, 1 / 120
    rows = []
    for frame in range(1, len(positions)):
        def cur(j):
            if j == "y_unit":
                return np.array([0, 1, 0])
            if j == "minus_y_unit":
                return np.array([0, -1, 0])
            if j == "zero":
                return np.array([0, 0, 0])
            if j == "y_min":
                return np.array([0, min(y for (_, y, _) in positions[frame]), 0])
            return positions[frame][names.index(j)]

        def prev(j):
            return positions[frame - 1][names.index(j)]

        def f_move(j1, j2, j3, j4, th):
            vel = cur(j3) - cur(j1) - (prev(j3) - prev(j1))
            d = cur(j2) - cur(j1)
            return np.dot(vel, d) / np.linalg.norm(d) / tpf > th

        def f_nmove(j1, j2, j3, j4, th):
            vel = cur(j4) - cur(j1) - (prev(j4) - prev(j1))
            d = np.cross(cur(j3) - cur(j1), cur(j2) - cur(j1))
            return np.dot(vel, d) / np.linalg.norm(d) / tpf > th

        def f_plane(a, b, c, p, th):
            cr = np.cross(cur(c) - cur(a), cur(b) - cur(a))
            return np.dot(cr, cur(p) - cur(a)) / np.linalg.norm(cr) > th

        def f_nplane(n1, n2, a, p, th):
            n = cur(n2) - cur(n1)
            return np.dot(n, cur(p) - cur(a)) / np.linalg.norm(n) > th

        def f_angle(j1, j2, k1, k2, rng):
            j, k = cur(j2) - cur(j1), cur(k2) - cur(k1)
            ang = np.degrees(np.arccos(np.dot(j, k) / (np.linalg.norm(j) * np.linalg.norm(k))))
            return rng[0] < ang < rng[1]

        def f_fast(j, th):
            return np.linalg.norm(cur(j) - prev(j)) / tpf > th

        rows.append([
            f_nmove("neck", "rhip", "lhip", "rwrist", 1.8 * hl), f_nmove("neck", "lhip", "rhip", "lwrist", 1.8 * hl),
            f_nplane("chest", "neck", "neck", "rwrist", 0.2 * hl), f_nplane("chest", "neck", "neck", "lwrist", 0.2 * hl),
            f_move("belly", "chest", "chest", "rwrist", 1.8 * hl), f_move("belly", "chest", "chest", "lwrist", 1.8 * hl),
            f_angle("relbow", "rshoulder", "relbow", "rwrist", [0, 110]),
            f_angle("lelbow", "lshoulder", "lelbow", "lwrist", [0, 110]),
            f_nplane("lshoulder", "rshoulder", "lwrist", "rwrist", 2.5 * sw),
            f_move("lwrist", "rwrist", "rwrist", "lwrist", 1.4 * hl),
            f_move("rwrist", "root", "lwrist", "root", 1.4 * hl), f_move("lwrist", "root", "rwrist", "root", 1.4 * hl),
            f_fast("rwrist", 2.5 * hl), f_fast("lwrist", 2.5 * hl),
            f_plane("root", "lhip", "ltoes", "rankle", 0.38 * hl), f_plane("root", "rhip", "rtoes", "lankle", 0.38 * hl),
            f_nplane("zero", "y_unit", "y_min", "rankle", 1.2 * hl), f_nplane("zero", "y_unit", "y_min", "lankle", 1.2 * hl),
            f_nplane("lhip", "rhip", "lankle", "rankle", 2.1 * hw),
            f_angle("rknee", "rhip", "rknee", "rankle", [0, 110]), f_angle("lknee", "lhip", "lknee", "lankle", [0, 110]),
            f_fast("rankle", 2.5 * hl), f_fast("lankle", 2.5 * hl),
            f_angle("neck", "root", "rshoulder", "relbow", [25, 180]),
            f_angle("neck", "root", "lshoulder", "lelbow", [25, 180]),
            f_angle("neck", "root", "rhip", "rknee", [50, 180]), f_angle("neck", "root", "lhip", "lknee", [50, 180]),
            f_plane("rankle", "neck", "lankle", "root", 0.5 * hl),
            f_angle("neck", "root", "zero", "y_unit", [70, 110]),
            f_nplane("zero", "minus_y_unit", "y_min", "rwrist", -1.2 * hl),
            f_nplane("zero", "minus_y_unit", "y_min", "lwrist", -1.2 * hl),
            f_fast("root", 2.3 * hl),
        ])
    return np.array(rows, np.float32).mean(0)


def test_geometric_features_match_reference_loops():
    pos = _dance(np.random.default_rng(1), frames=25)
    ours = mf.geometric_features(pos)
    assert ours.shape == (32,)
    np.testing.assert_allclose(ours, _ref_geometric(pos), atol=1e-6)
    assert 0.0 < ours.mean() < 1.0  # the motion exercises both outcomes


def test_geometric_fast_root_feature_closed_form():
    # Root moving 1 cm per frame at the reference's 1/120 s per frame = 1.2 m/s; threshold 2.3 hl.
    pos = np.tile(_dance(np.random.default_rng(2), frames=1), (10, 1, 1))
    pos = pos + 0.01 * np.arange(10)[:, None, None] * np.array([1.0, 0.0, 0.0])
    expected = float(1.2 > 2.3 * mf.HUMERUS_LENGTH)
    assert mf.geometric_features(pos)[31] == expected
    fast = pos * np.array([1.0, 1.0, 1.0]) + 0.05 * np.arange(10)[:, None, None] * np.array([1.0, 0.0, 0.0])
    assert mf.geometric_features(fast)[31] == 1.0  # 7.2 m/s is fast
