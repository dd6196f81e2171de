"""`python -m genmo_jax.sample` end to end on a randomly initialised tiny model (no training)."""

import json

import numpy as np
import pytest

from genmo_jax import sample
from genmo_jax.body.skeletons import SMPL_JOINT_NAMES
from genmo_jax.viz.bvh import bvh_forward_kinematics, read_bvh


def test_two_caption_timeline_writes_npz_bvh_and_preview(tiny_random_export, tmp_path):
    timeline = tmp_path / "t.json"
    timeline.write_text(json.dumps({"frames": 40, "ddim_steps": 3, "seed": 1, "texts": [
        {"text": "a person walks forward", "start_frame": 0, "end_frame": 25},
        {"text": "a person turns left", "start_frame": 20, "end_frame": 40}]}))
    rc = sample.main(["--params", tiny_random_export, "--timeline", str(timeline), "--out", str(tmp_path / "out"),
                      "--preview", "gif"])
    assert rc == 0
    motion = np.load(tmp_path / "out" / "motion.npz")
    assert motion["poses"].shape == (40, 156) and motion["trans"].shape == (40, 3)
    assert float(motion["mocap_framerate"]) == 30.0
    assert np.all(np.isfinite(motion["joints_w"]))
    assert motion["joints_w"][..., 1].min() == pytest.approx(0.0, abs=1e-5)  # stands on the ground
    # The BVH's FK reproduces the npz's world joints (same body, same params).
    bvh = read_bvh(tmp_path / "out" / "motion.bvh")
    order = [bvh.names.index(n) for n in SMPL_JOINT_NAMES]
    np.testing.assert_allclose(bvh_forward_kinematics(bvh)[:, order] / 100.0, motion["joints_w"], atol=1e-3)
    assert (tmp_path / "out" / "motion.gif").stat().st_size > 0
    assert json.loads(str(motion["timeline"]))["texts"][1]["text"] == "a person turns left"


def test_estimation_from_keypoints_is_deterministic(tiny_random_export, tmp_path):
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(400, 600, (30, 17, 2)), np.ones((30, 17, 1))], -1).astype(np.float32)
    np.save(tmp_path / "kp.npy", kp)
    spec = {"frames": 30, "estimation": True, "keypoints": {"file": "kp.npy"}}
    from genmo_jax import timeline as tlm

    tl = tlm.parse_timeline(spec, str(tmp_path))
    a = sample.sample_timeline(tiny_random_export, tl, str(tmp_path / "a"), preview=None, verbose=False)
    b = sample.sample_timeline(tiny_random_export, tl, str(tmp_path / "b"), preview=None, verbose=False)
    assert a["steps"] == 1
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "motion.npz")["poses"],
                                  np.load(tmp_path / "b" / "motion.npz")["poses"])


def test_bad_timeline_exits_non_zero_with_one_line_per_mistake(tiny_random_export, tmp_path, capsys):
    timeline = tmp_path / "t.json"
    timeline.write_text(json.dumps({"frames": 40, "texts": [{"text": "walk", "start_frame": 0, "end_frame": 99}]}))
    assert sample.main(["--params", tiny_random_export, "--timeline", str(timeline), "--out", str(tmp_path / "o")]) == 2
    assert "texts[0] ('walk'): window ends at frame 99" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing half-written
