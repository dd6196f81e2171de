"""BVH -> SMPL retargeting on the two real clips of the bvhtoolbox 0.1.3 sdist (MIT)."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from genmo_jax.data import convert, fixtures, shards
from genmo_jax.data.converters import bvh, common

SDIST = "bvhtoolbox-0.1.3.tar.gz"
CLIPS = ("test_mocapbank.bvh", "test_freebvh.bvh")


@pytest.fixture(scope="module")
def clips_dir():
    """Downloads the sdist once into ~/.cache/genmo_jax (or $GENMO_JAX_CACHE), extracts clips."""
    cache = Path(os.environ.get("GENMO_JAX_CACHE", Path.home() / ".cache" / "genmo_jax"))
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / SDIST
    if not archive.is_file():
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "bvhtoolbox==0.1.3", "-d", str(cache)], capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not archive.is_file():
            pytest.skip(f"bvhtoolbox==0.1.3 sdist not downloadable (offline?): "
                        f"{result.stderr.strip()[-200:]}")
    out = cache / "bvhtoolbox_clips"
    if not all((out / c).is_file() for c in CLIPS):
        out.mkdir(exist_ok=True)
        with tarfile.open(archive) as tar:
            for clip in CLIPS:
                member = tar.getmember(f"bvhtoolbox-0.1.3/tests/example_files/{clip}")
                (out / clip).write_bytes(tar.extractfile(member).read())
    return out


def test_parser_reads_hierarchy_and_motion(clips_dir):
    mocap = bvh.Bvh(clips_dir / "test_mocapbank.bvh")
    assert mocap.motion.shape[0] == 455 and abs(mocap.frame_time - 1 / 30) < 1e-5
    assert sum(len(c) for c in mocap.channels) == mocap.motion.shape[1] == 60
    assert mocap.names[0] == "Hips" and mocap.parents[0] == -1
    free = bvh.Bvh(clips_dir / "test_freebvh.bvh")
    assert free.motion.shape == (69, 168)
    # Root position channels are read into positions (frame 0 of the file).
    _, positions = mocap.forward_kinematics()
    np.testing.assert_allclose(positions[0, 0], [-44.0003, 93.5663, 229.0256])


@pytest.mark.parametrize("clip", CLIPS)
def test_retargeted_limbs_point_like_the_bvh(clip, clips_dir):
    source = bvh.Bvh(clips_dir / clip)
    rest = fixtures.synthetic_rest_joints(np.zeros(10))
    params = bvh.retarget(source, rest)
    joints = common.smpl_joints(rest, params["global_orient"], params["body_pose"],
                                params["transl"])
    mapping, positions = params["mapping"], params["bvh_positions"]
    # Thigh, shin, upper arm, forearm (both sides): bone directions agree with the BVH's FK.
    for parent, child in ((1, 4), (2, 5), (4, 7), (5, 8), (16, 18), (17, 19), (18, 20),
                          (19, 21)):
        ours = joints[:, child] - joints[:, parent]
        theirs = positions[:, mapping[child]] - positions[:, mapping[parent]]
        cosine = np.sum(ours * theirs, -1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(
            theirs, axis=-1)
        assert cosine.min() > 0.9999, (clip, parent, child, cosine.min())
    # The pelvis follows the BVH hips, in metres.
    np.testing.assert_allclose(joints[:, 0], positions[:, mapping[0]] * params["scale"],
                               atol=1e-9)
    assert 0.005 < params["scale"] < 0.02           # both files are in centimetres


def test_convert_bvh_clips_to_records(clips_dir, tmp_path):
    counts = convert.convert("bvh", str(clips_dir), str(tmp_path / "out"),
                             rest_joints_fn=fixtures.synthetic_rest_joints, progress=False)
    assert counts["written"] == 2
    records = {str(r["name"]): r for r in shards.ShardSource(tmp_path / "out")}
    mocap, walk = records["test_mocapbank"], records["test_freebvh"]
    assert mocap["transl"].shape[0] == 455 and walk["transl"].shape[0] == 69   # 30 fps kept
    pelvis_height = mocap["joints_w"][:, 0, 1]
    # Stand (pelvis near leg length), go down to the floor, stand up again.
    assert pelvis_height[0] > 0.8 and pelvis_height.min() < 0.45 and pelvis_height[-1] > 0.8
    # Feet near the floor while standing (y-up, metres).
    assert abs(mocap["joints_w"][0, [7, 8], 1].mean()) < 0.2
    # The Mixamo walk goes 94 cm (file units; x leg-length scale in metres) forward along +z,
    # the way its rest pose faces (frames 0-31), then turns and walks back.
    forward = walk["joints_w"][:, 0, 2] - walk["joints_w"][0, 0, 2]
    sideways = walk["joints_w"][:, 0, 0] - walk["joints_w"][0, 0, 0]
    assert 0.5 < forward.max() < 1.3 and np.abs(sideways).max() < 0.15
    assert np.all(np.diff(forward[:30]) > 0)            # monotone forward while walking out
