"""Skeleton previews: files are written, have the requested frame count, and show the motion."""

import numpy as np
import pytest

from genmo_jax.viz import render

imageio = pytest.importorskip("imageio.v3")


def _walk(frames=12):
    rng = np.random.default_rng(0)
    joints = np.tile(rng.normal(scale=0.3, size=(1, 24, 3)) + [0, 1.0, 0], (frames, 1, 1))
    joints[..., 2] += np.linspace(0, 1.0, frames)[:, None]  # walks forward along +z
    return joints


def test_gif_has_one_image_per_rendered_frame(tmp_path):
    path = render.render_motion(str(tmp_path / "m.gif"), _walk(), fps=30, stride=2,
                                texts=[("a person walks forward", 0, 6)])
    frames = imageio.imread(path, index=None)
    assert frames.shape[0] == 6
    assert frames[0].std() > 0  # not a blank image
    assert not np.array_equal(frames[0], frames[-1])  # the body moved


def test_mp4_with_camera_panel(tmp_path):
    joints = _walk(6)
    kp2d = np.concatenate([np.random.default_rng(1).uniform(100, 900, (6, 17, 2)), np.ones((6, 17, 1))], -1)
    K = np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]])
    joints_c = joints + [0, 0, 4.0]
    path = render.render_motion(str(tmp_path / "m.mp4"), joints, kp2d=kp2d, joints_c=joints_c, K=K)
    assert (tmp_path / "m.mp4").stat().st_size > 1000


def test_captions_follow_their_windows():
    caps = render.caption_per_frame(5, [("walk", 0, 3), ("wave", 2, 9)])
    assert caps == ["walk", "walk", "walk | wave", "wave", "wave"]


def test_bad_extension_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"\.mp4 or \.gif"):
        render.render_motion(str(tmp_path / "m.avi"), _walk())
