"""COCO-17 from a body model's regressor in numpy vs the JAX body model (smpl.forward)."""

import numpy as np
import pytest

from genmo_jax.data import coco_body, simulate
from genmo_jax.data.procedural import records, world
from genmo_jax.data.procedural import skeleton as sk


def _open_body_path():
    from genmo_jax.body.open_body import open_body_path
    try:
        return str(open_body_path())
    except FileNotFoundError:
        pytest.skip("the built-in open body file is not built")


def test_coco_and_joints_match_the_jax_body_model():
    import jax
    import jax.numpy as jnp

    from genmo_jax.body import smpl

    path = _open_body_path()
    model = smpl.load_body_model(path)
    body = coco_body.load_coco_body(path)
    rng = np.random.default_rng(0)
    betas = rng.normal(size=10)
    orient, pose = rng.normal(size=(5, 3)) * 0.5, rng.normal(size=(5, 63)) * 0.3
    transl = rng.normal(size=(5, 3))
    joints, coco = body.joints_and_coco(betas, orient, pose, transl)

    @jax.jit
    def reference(betas, orient, pose, transl):
        out = smpl.forward(model, betas, orient, pose, transl)
        return out["joints"], smpl.coco17_joints(model, out["vertices"])

    ref_joints, ref_coco = reference(*(jnp.asarray(a, jnp.float32)
                                       for a in (betas, orient, pose, transl)))
    np.testing.assert_allclose(joints, np.asarray(ref_joints)[:, :24], atol=5e-5)
    np.testing.assert_allclose(coco, np.asarray(ref_coco), atol=5e-5)


def test_simulation_projects_the_regressed_coco_points():
    path = _open_body_path()
    from genmo_jax.body import smpl

    shapes = sk.ShapeSpace.from_body_model(smpl.load_body_model(path))
    clip = world.generate_clip(np.random.default_rng(1), shapes, dance_prob=0.0)
    record = records.clip_to_record(clip, "c")
    config = dict(coco_body="open", noise=False, speed_augmentation=False)
    sample = simulate.make_training_sample(record, np.random.default_rng(0), config)
    # regressing from the sample's (yawed, cropped) world params gives the projected points
    _, coco = coco_body.load_coco_body("open").joints_and_coco(
        record["betas"], sample["global_orient_w"], sample["body_pose"], sample["transl_w"])
    cam = np.einsum("lij,lkj->lki", sample["R_w2c"], coco) + sample["t_w2c"][:, None]
    K = sample["K"][0]
    pixels = cam[..., :2] / cam[..., 2:] * K[0, 0] + K[0, 2]
    visible = sample["kp2d"][..., 2] > 0
    assert visible.mean() > 0.9
    np.testing.assert_allclose(sample["kp2d"][..., :2][visible], pixels[visible], atol=0.05)


def test_documented_joint_mapping_is_close_to_the_regressor():
    """simulate.coco17_from_smpl (the default, no body file) vs the open body's regressor."""
    path = _open_body_path()
    from genmo_jax.body import smpl

    shapes = sk.ShapeSpace.from_body_model(smpl.load_body_model(path))
    clip = world.generate_clip(np.random.default_rng(1), shapes, dance_prob=0.0)
    joints, coco = coco_body.load_coco_body(path).joints_and_coco(
        clip["betas"], clip["global_orient"], clip["body_pose"], clip["transl"])
    np.testing.assert_allclose(joints, clip["joints_w"], atol=1e-6)
    mapped = simulate.coco17_from_smpl(clip["joints_w"], simulate.head_rotation(
        clip["global_orient"], clip["body_pose"]))
    assert np.linalg.norm(mapped - coco, axis=-1).max() < 0.04


def test_body_without_a_coco_regressor_is_rejected(tmp_path):
    import pickle

    path = tmp_path / "no_coco.pkl"
    with open(path, "wb") as f:
        pickle.dump({"v_template": np.zeros((3, 3)), "J_regressor": np.zeros((24, 3))}, f)
    with pytest.raises(ValueError, match="no 'coco_regressor'"):
        coco_body.load_coco_body(str(path))
