"""SMPL-family body model: loading (pkl with chumpy objects, npz), FK and LBS against references.

References: `smplx.SMPL` and `smplx.lbs.lbs` (PyTorch, `ref` tests) on synthetic model files
written in the official layouts; a plain-numpy LBS written here independently of the JAX code.
"""

import pickle
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse
from scipy.spatial.transform import Rotation

from genmo_jax.body import skeletons
from genmo_jax.body.rotations import axis_angle_to_matrix
from genmo_jax.body.smpl import coco17_joints, forward, forward_from_rotations, load_body_model, rest_joints, skeleton_forward

NUM_VERTICES = 120


def _synthetic_arrays(num_joints, parents, num_shape, seed=0, num_vertices=NUM_VERTICES):
    """Random model arrays with a plausible skeleton: vertices scattered around the joints."""
    rng = np.random.default_rng(seed)
    joint_pos = np.zeros((num_joints, 3))
    for j in range(1, num_joints):
        joint_pos[j] = joint_pos[parents[j]] + rng.normal(scale=0.15, size=3)
    owner = rng.integers(0, num_joints, size=num_vertices)
    v_template = joint_pos[owner] + rng.normal(scale=0.05, size=(num_vertices, 3))
    weights = rng.random((num_vertices, num_joints)) ** 4
    weights[np.arange(num_vertices), owner] += 2.0
    weights /= weights.sum(axis=1, keepdims=True)
    regressor = rng.random((num_joints, num_vertices)) * (rng.random((num_joints, num_vertices)) < 0.1)
    regressor[np.arange(num_joints), rng.integers(0, num_vertices, num_joints)] += 1.0
    regressor /= regressor.sum(axis=1, keepdims=True)
    kintree = np.stack([np.array(parents, np.int64) % (2**32), np.arange(num_joints)]).astype(np.uint32)
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.02, size=(num_vertices, 3, num_shape)),
        "posedirs": rng.normal(scale=0.01, size=(num_vertices, 3, 9 * (num_joints - 1))),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, num_vertices, size=(200, 3)).astype(np.uint32),
    }


def _write_smpl_pkl(path, arrays, chumpy=False):
    """Official SMPL .pkl layout: sparse J_regressor, extra string keys, optionally chumpy arrays."""
    data = dict(arrays, bs_style="lbs", bs_type="lrotmin", J=arrays["J_regressor"] @ arrays["v_template"])
    data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    if not chumpy:
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=2)
        return
    # Pickle through a stand-in `chumpy.ch.Ch` (same module path and state layout as chumpy's:
    # __dict__ without caches, value under "x"), then remove it so the loader runs chumpy-free.
    module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

        def __getstate__(self):
            return dict(self.__dict__)

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    module.Ch = Ch
    package = types.ModuleType("chumpy")
    package.ch = module
    sys.modules.update({"chumpy": package, "chumpy.ch": module})
    try:
        for key in ("v_template", "shapedirs", "posedirs", "weights"):
            data[key] = Ch(data[key])
        payload = pickle.dumps(data, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    # The official (Python 2) files name the sparse class by its old module path.
    payload = payload.replace(b"cscipy.sparse._csc\n", b"cscipy.sparse.csc\n")
    assert b"cscipy.sparse.csc\n" in payload
    with open(path, "wb") as f:
        f.write(payload)


@pytest.fixture(scope="module")
def smpl_arrays():
    return _synthetic_arrays(24, skeletons.SMPL_PARENTS, num_shape=16)


@pytest.fixture(scope="module")
def smpl_path(tmp_path_factory, smpl_arrays):
    path = str(tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl")
    _write_smpl_pkl(path, smpl_arrays)
    return path


def _random_inputs(batch, seed=1, num_betas=10, body_dims=63):
    rng = np.random.default_rng(seed)
    return dict(
        betas=rng.normal(size=(batch, num_betas)).astype(np.float32),
        global_orient=Rotation.random(batch, random_state=seed).as_rotvec().astype(np.float32),
        body_pose=(rng.normal(scale=0.4, size=(batch, body_dims))).astype(np.float32),
        transl=rng.normal(size=(batch, 3)).astype(np.float32),
    )


def _numpy_lbs(arrays, betas, full_pose, transl, num_betas=10):
    """Textbook SMPL in float64 numpy, one sample: returns vertices (V, 3), joints (J, 3)."""
    parents = [-1] + [int(p) for p in arrays["kintree_table"][0][1:]]
    v_shaped = arrays["v_template"] + arrays["shapedirs"][:, :, :num_betas] @ betas
    joints = arrays["J_regressor"] @ v_shaped
    rots = Rotation.from_rotvec(full_pose).as_matrix()
    v_posed = v_shaped + arrays["posedirs"] @ (rots[1:] - np.eye(3)).reshape(-1)
    world = np.zeros((len(parents), 4, 4))
    for j, p in enumerate(parents):
        local = np.eye(4)
        local[:3, :3] = rots[j]
        local[:3, 3] = joints[j] - (joints[p] if p >= 0 else 0)
        world[j] = local if p < 0 else world[p] @ local
    skin = world.copy()
    skin[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)
    per_vertex = np.einsum("vj,jab->vab", arrays["weights"], skin)
    verts = np.einsum("vab,vb->va", per_vertex[:, :3, :3], v_posed) + per_vertex[:, :3, 3]
    return verts + transl, world[:, :3, 3] + transl


def test_forward_matches_numpy_reference(smpl_path, smpl_arrays):
    model = load_body_model(smpl_path)
    inputs = _random_inputs(4)
    out = jax.jit(forward)(model, **inputs)
    assert out["vertices"].shape == (4, NUM_VERTICES, 3) and out["joints"].shape == (4, 24, 3)
    for b in range(4):
        full_pose = np.concatenate(
            [inputs["global_orient"][b : b + 1], inputs["body_pose"][b].reshape(21, 3), np.zeros((2, 3))]
        ).astype(np.float64)
        verts, joints = _numpy_lbs(smpl_arrays, inputs["betas"][b].astype(np.float64), full_pose, inputs["transl"][b])
        np.testing.assert_allclose(np.asarray(out["vertices"][b]), verts, atol=1e-5)
        np.testing.assert_allclose(np.asarray(out["joints"][b]), joints, atol=1e-5)


def test_skeleton_forward_equals_lbs_joints_and_broadcasts(smpl_path):
    model = load_body_model(smpl_path)
    inputs = _random_inputs(6, seed=2)
    full = forward(model, **inputs)
    fk = skeleton_forward(model, **inputs)
    np.testing.assert_allclose(np.asarray(fk), np.asarray(full["joints"]), atol=1e-5)
    # Leading axes broadcast: one betas row for a (2, 3) batch of poses.
    poses = {k: v.reshape(2, 3, -1) for k, v in inputs.items() if k != "betas"}
    fk2 = skeleton_forward(model, betas=inputs["betas"][:1].reshape(1, 1, 10), **poses)
    ref = skeleton_forward(model, betas=np.repeat(inputs["betas"][:1], 6, 0), **{k: v.reshape(6, -1) for k, v in poses.items()})
    np.testing.assert_allclose(np.asarray(fk2).reshape(6, 24, 3), np.asarray(ref), atol=1e-6)
    # At zero pose the joints are the rest joints plus transl.
    zeros = {"global_orient": np.zeros(3), "body_pose": np.zeros(63), "transl": np.ones(3)}
    np.testing.assert_allclose(
        np.asarray(skeleton_forward(model, betas=inputs["betas"][0], **zeros)),
        np.asarray(rest_joints(model, inputs["betas"][0])) + 1.0,
        atol=1e-6,
    )


def test_vertex_subset_and_full_body_pose(smpl_path):
    model = load_body_model(smpl_path)
    inputs = _random_inputs(3, seed=3, body_dims=69)
    ids = np.array([5, 0, 77, 119])
    full = forward(model, **inputs)
    sub = forward(model, vertex_ids=ids, **inputs)
    np.testing.assert_allclose(np.asarray(sub["vertices"]), np.asarray(full["vertices"])[:, ids], atol=1e-6)
    # 63-d pose == 69-d pose with zero hands.
    padded = dict(inputs, body_pose=np.concatenate([inputs["body_pose"][:, :63], np.zeros((3, 6), np.float32)], -1))
    short = dict(inputs, body_pose=inputs["body_pose"][:, :63])
    np.testing.assert_allclose(
        np.asarray(forward(model, **padded)["vertices"]), np.asarray(forward(model, **short)["vertices"]), atol=1e-6
    )


def test_vmap_over_inputs_and_over_stacked_models(smpl_path, tmp_path, smpl_arrays):
    """BodyModel is a pytree: vmap maps over inputs, and over models of equal sizes (genders)."""
    model = load_body_model(smpl_path)
    inputs = _random_inputs(4, seed=13)
    batched = skeleton_forward(model, **inputs)
    mapped = jax.vmap(skeleton_forward, in_axes=(None, 0, 0, 0, 0))(model, *inputs.values())
    np.testing.assert_allclose(np.asarray(mapped), np.asarray(batched), atol=1e-6)
    other_path = str(tmp_path / "other.npz")
    np.savez(other_path, **_synthetic_arrays(24, skeletons.SMPL_PARENTS, num_shape=16, seed=14))
    other = load_body_model(other_path)
    stacked = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), model, other)
    two = jax.vmap(skeleton_forward, in_axes=(0, None, None, None, None))(stacked, *inputs.values())
    np.testing.assert_allclose(np.asarray(two[1]), np.asarray(skeleton_forward(other, **inputs)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(two[0]), np.asarray(batched), atol=1e-6)


def test_gradients_are_finite_at_zero_pose(smpl_path):
    model = load_body_model(smpl_path)
    zeros = {"betas": jnp.zeros(10), "global_orient": jnp.zeros(3), "body_pose": jnp.zeros(63), "transl": jnp.zeros(3)}
    loss = lambda p: jnp.sum(forward(model, **p)["vertices"] ** 2) + jnp.sum(skeleton_forward(model, **p) ** 2)
    grads = jax.jit(jax.grad(loss))(zeros)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree_util.tree_leaves(grads))
    assert float(jnp.abs(grads["body_pose"]).sum()) > 0


def test_chumpy_pickle_loads_without_chumpy(tmp_path, smpl_arrays, smpl_path):
    assert "chumpy" not in sys.modules
    path = str(tmp_path / "chumpy_smpl.pkl")
    _write_smpl_pkl(path, smpl_arrays, chumpy=True)
    with pytest.raises(ModuleNotFoundError):  # the file really references chumpy
        with open(path, "rb") as f:
            pickle.load(f, encoding="latin1")
    a, b = load_body_model(path), load_body_model(smpl_path)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.parents == skeletons.SMPL_PARENTS and a.num_betas == 10


def test_open_body_extra_keys_and_coco(tmp_path, smpl_arrays):
    rng = np.random.default_rng(4)
    coco = rng.random((17, NUM_VERTICES))
    coco /= coco.sum(1, keepdims=True)
    path = str(tmp_path / "open_body.pkl")
    with open(path, "wb") as f:
        pickle.dump(dict(smpl_arrays, coco_regressor=coco, sparse_vertex_ids=np.arange(0, 120, 3)), f)
    model = load_body_model(path)
    assert model.sparse_vertex_ids.shape == (40,)
    out = forward(model, **_random_inputs(2))
    np.testing.assert_allclose(
        np.asarray(coco17_joints(model, out["vertices"])), np.einsum("kv,bvc->bkc", coco, np.asarray(out["vertices"])), atol=1e-5
    )
    with pytest.raises(ValueError, match="coco_regressor"):
        coco17_joints(model.replace(coco_regressor=None), out["vertices"])


def test_bad_files_give_one_line_errors(tmp_path, smpl_arrays):
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        load_body_model(str(tmp_path / "nope.pkl"))
    broken = dict(smpl_arrays)
    del broken["posedirs"]
    path = str(tmp_path / "broken.npz")
    np.savez(path, **broken)
    with pytest.raises(ValueError, match=r"broken\.npz.*'posedirs'"):
        load_body_model(path)
    bad_shape = dict(smpl_arrays, weights=smpl_arrays["weights"][:, :5])
    path = str(tmp_path / "bad_shape.npz")
    np.savez(path, **bad_shape)
    with pytest.raises(ValueError, match=r"bad_shape\.npz.*'weights'"):
        load_body_model(path)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="garbage.pkl"):
        load_body_model(str(garbage))
    path = str(tmp_path / "ok.npz")
    np.savez(path, **smpl_arrays)
    with pytest.raises(ValueError, match="body_pose"):
        skeleton_forward(load_body_model(path), np.zeros(10), np.zeros(3), np.zeros(60), np.zeros(3))


# --------------------------------------------------------------------------- SMPL-X layout


def _smplx_parents():
    """The SMPL-X 55-joint tree: 22 body joints, jaw, eyes, 15 joints per hand."""
    parents = list(skeletons.SMPL_PARENTS[:22]) + [15, 15, 15]
    for wrist in (20, 21):
        for _finger in range(5):
            parents += [wrist, len(parents), len(parents) + 1]
    return parents


@pytest.fixture(scope="module")
def smplx_npz(tmp_path_factory):
    parents = _smplx_parents()
    arrays = _synthetic_arrays(55, parents, num_shape=20, seed=5, num_vertices=200)
    rng = np.random.default_rng(6)
    arrays["hands_meanl"] = rng.normal(scale=0.3, size=45)
    arrays["hands_meanr"] = rng.normal(scale=0.3, size=45)
    path = str(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz")
    np.savez(path, **arrays)
    return path, arrays


def test_smplx_npz_layout(smplx_npz):
    path, arrays = smplx_npz
    model = load_body_model(path)
    assert model.num_joints == 55 and model.num_skeleton_joints == 22 and model.name == "smplx"
    inputs = _random_inputs(3, seed=7)
    out = forward(model, **inputs)
    fk = skeleton_forward(model, **inputs)
    assert fk.shape == (3, 22, 3) and out["joints"].shape == (3, 55, 3)
    np.testing.assert_allclose(np.asarray(fk), np.asarray(out["joints"][:, :22]), atol=1e-5)
    hands = np.concatenate([arrays["hands_meanl"], arrays["hands_meanr"]]).reshape(30, 3)
    for b in range(3):
        full_pose = np.concatenate(
            [inputs["global_orient"][b : b + 1], inputs["body_pose"][b].reshape(21, 3), np.zeros((3, 3)), hands]
        )
        verts, joints = _numpy_lbs(arrays, inputs["betas"][b].astype(np.float64), full_pose, inputs["transl"][b])
        np.testing.assert_allclose(np.asarray(out["vertices"][b]), verts, atol=1e-5)
        np.testing.assert_allclose(np.asarray(out["joints"][b]), joints, atol=1e-5)
    flat = load_body_model(path, flat_hand_mean=True)
    assert float(jnp.abs(flat.pose_mean).max()) == 0.0
    # More betas than the file has directions (20 here): the extra ones are zero directions.
    wide = load_body_model(path, num_betas=24)
    assert wide.num_betas == 24
    padded_betas = np.concatenate([inputs["betas"], np.ones((3, 14), np.float32)], -1)
    np.testing.assert_allclose(
        np.asarray(forward(wide, **dict(inputs, betas=padded_betas))["vertices"][:, :, :]),
        np.asarray(forward(load_body_model(path, num_betas=20), **dict(inputs, betas=padded_betas[:, :20]))["vertices"]),
        atol=1e-6,
    )


def test_forward_from_rotations_equals_the_axis_angle_forward(smpl_path, smplx_npz):
    """The losses' entry (local rotation matrices, no axis-angle round trip) against `forward`
    itself on SMPL (joints 22, 23 at rest) and SMPL-X (mean hands, so `pose_mean` matters)."""
    for path in (smpl_path, smplx_npz[0]):
        model = load_body_model(path)
        inputs = _random_inputs(3, seed=11)
        pose = np.concatenate([inputs["global_orient"][:, None], inputs["body_pose"].reshape(3, 21, 3)], 1)
        rotations = axis_angle_to_matrix(jnp.asarray(pose))
        ref = forward(model, **inputs)
        out = forward_from_rotations(model, inputs["betas"], rotations, inputs["transl"])
        for key in ("vertices", "joints"):
            np.testing.assert_allclose(np.asarray(out[key]), np.asarray(ref[key]), atol=2e-6)
        # Leading axes broadcast (one shape, one translation for 3 poses); all J joints given.
        one = forward_from_rotations(model, inputs["betas"][0], rotations, inputs["transl"][0])
        np.testing.assert_allclose(
            np.asarray(one["vertices"][2]),
            np.asarray(forward(model, inputs["betas"][0], inputs["global_orient"][2], inputs["body_pose"][2],
                               inputs["transl"][0])["vertices"]), atol=2e-6)
        every = np.concatenate([pose, np.broadcast_to(np.asarray(model.pose_mean[22:]), (3, model.num_joints - 22, 3))], 1)
        full = forward_from_rotations(model, inputs["betas"], axis_angle_to_matrix(jnp.asarray(every)), inputs["transl"])
        np.testing.assert_allclose(np.asarray(full["vertices"]), np.asarray(ref["vertices"]), atol=2e-6)
    with pytest.raises(ValueError, match="rotations must be"):
        forward_from_rotations(model, inputs["betas"], jnp.zeros((3, 22, 3)), inputs["transl"])
    with pytest.raises(ValueError, match="rotations must be"):
        forward_from_rotations(model, inputs["betas"], jnp.zeros((3, 56, 3, 3)), inputs["transl"])


def test_smplh_npz_layout(tmp_path):
    """SMPL-H: 52 joints (22 body + 2 x 15 hand joints, no jaw/eyes), hands at their mean pose."""
    parents = list(skeletons.SMPL_PARENTS[:22])
    for wrist in (20, 21):
        for _finger in range(5):
            parents += [wrist, len(parents), len(parents) + 1]
    arrays = _synthetic_arrays(52, parents, num_shape=16, seed=8)
    rng = np.random.default_rng(9)
    arrays["hands_meanl"], arrays["hands_meanr"] = rng.normal(scale=0.3, size=(2, 45))
    path = str(tmp_path / "SMPLH_FEMALE.npz")
    np.savez(path, **arrays)
    model = load_body_model(str(tmp_path), gender="female")  # a folder + gender
    assert model.name == "smplh" and model.num_skeleton_joints == 22
    inputs = _random_inputs(2, seed=10)
    out = forward(model, **inputs)
    hands = np.concatenate([arrays["hands_meanl"], arrays["hands_meanr"]]).reshape(30, 3)
    full_pose = np.concatenate([inputs["global_orient"][:1], inputs["body_pose"][0].reshape(21, 3), hands])
    verts, joints = _numpy_lbs(arrays, inputs["betas"][0].astype(np.float64), full_pose, inputs["transl"][0])
    np.testing.assert_allclose(np.asarray(out["vertices"][0]), verts, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out["joints"][0]), joints, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="male"):
        load_body_model(str(tmp_path), gender="male")


# ----------------------------------------------------------------------- smplx references


@pytest.mark.ref
def test_parity_with_smplx_smpl(smpl_path):
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    from collections import defaultdict

    # The extra (vertex-picked) joints of smplx are not part of the parity: point them at vertex 0.
    reference = smplx.SMPL(smpl_path, num_betas=10, vertex_ids=defaultdict(int))
    model = load_body_model(smpl_path)
    inputs = _random_inputs(8, seed=11)
    body_pose69 = np.concatenate([inputs["body_pose"], np.zeros((8, 6), np.float32)], -1)
    with torch.no_grad():
        ref = reference(
            betas=torch.tensor(inputs["betas"]),
            global_orient=torch.tensor(inputs["global_orient"]),
            body_pose=torch.tensor(body_pose69),
            transl=torch.tensor(inputs["transl"]),
        )
    out = forward(model, **inputs)
    np.testing.assert_allclose(np.asarray(out["vertices"]), ref.vertices.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(out["joints"]), ref.joints.numpy()[:, :24], atol=1e-5)
    np.testing.assert_allclose(np.asarray(skeleton_forward(model, **inputs)), ref.joints.numpy()[:, :24], atol=1e-5)


@pytest.mark.ref
def test_parity_with_smplx_lbs_on_smplx_layout(smplx_npz):
    torch = pytest.importorskip("torch")
    pytest.importorskip("smplx")
    from smplx.lbs import lbs

    path, arrays = smplx_npz
    model = load_body_model(path)
    inputs = _random_inputs(5, seed=12)
    hands = np.concatenate([arrays["hands_meanl"], arrays["hands_meanr"]])
    full_pose = np.concatenate(
        [inputs["global_orient"], inputs["body_pose"], np.zeros((5, 9)), np.tile(hands, (5, 1))], -1
    )
    parents = torch.tensor(_smplx_parents())
    with torch.no_grad():
        verts, joints = lbs(
            torch.tensor(inputs["betas"], dtype=torch.float64),
            torch.tensor(full_pose, dtype=torch.float64),
            torch.tensor(arrays["v_template"]),
            torch.tensor(arrays["shapedirs"][:, :, :10]),
            torch.tensor(arrays["posedirs"].reshape(-1, arrays["posedirs"].shape[-1]).T.copy()),
            torch.tensor(arrays["J_regressor"]),
            parents,
            torch.tensor(arrays["weights"]),
        )
    out = forward(model, **inputs)
    offset = inputs["transl"][:, None]
    np.testing.assert_allclose(np.asarray(out["vertices"]), verts.numpy() + offset, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out["joints"]), joints.numpy() + offset, atol=1e-5)
