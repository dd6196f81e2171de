"""Skeleton tables are self-consistent (tree order, flips are mirror involutions, names match)."""

from genmo_jax.body import skeletons as sk


def _mirror_name(name):
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def test_smpl_tables():
    assert len(sk.SMPL_JOINT_NAMES) == len(sk.SMPL_PARENTS) == len(sk.SMPL_FLIP_PERM) == 24
    assert sk.SMPL_PARENTS[0] == -1
    assert all(0 <= p < j for j, p in enumerate(sk.SMPL_PARENTS) if j > 0)
    assert sk.SMPL_JOINT_NAMES[sk.CONTACT_JOINTS[0]] == "left_ankle"
    assert [sk.SMPL_JOINT_NAMES[j] for j in sk.CONTACT_JOINTS] == [
        "left_ankle", "left_foot", "right_ankle", "right_foot", "left_wrist", "right_wrist"
    ]


def test_flip_permutations_mirror_names_and_tree():
    for names, perm, parents in (
        (sk.SMPL_JOINT_NAMES, sk.SMPL_FLIP_PERM, sk.SMPL_PARENTS),
        (sk.SMPLX_BODY_JOINT_NAMES, sk.SMPLX_BODY_FLIP_PERM, sk.SMPLX_BODY_PARENTS),
    ):
        assert sorted(perm) == list(range(len(names)))
        assert all(perm[perm[j]] == j for j in range(len(perm)))
        assert all(names[perm[j]] == _mirror_name(names[j]) for j in range(len(names)))
        # Mirroring maps the tree onto itself.
        assert all(parents[perm[j]] == (perm[parents[j]] if parents[j] >= 0 else -1) for j in range(len(names)))
    assert len(sk.COCO17_NAMES) == len(sk.COCO17_FLIP_PERM) == len(sk.COCO17_PARENTS) == 17
    assert all(sk.COCO17_NAMES[sk.COCO17_FLIP_PERM[j]] == _mirror_name(sk.COCO17_NAMES[j]) for j in range(17))


def test_smplx_body_is_smpl_prefix():
    assert sk.SMPLX_BODY_JOINT_NAMES == sk.SMPL_JOINT_NAMES[:22]
    assert sk.SMPLX_BODY_PARENTS == sk.SMPL_PARENTS[:22]
    assert sk.COCO17_PARENTS[0] == (5, 6) and sk.COCO17_PARENTS[15] == (13,)
