"""Contact IK post-processing of the estimation benchmarks (SPEC B 6.4 step 2; GVHMR / GEM
`postprocess.process_ik` with `utils/ik/ccd_ik.CCD_IK`), in JAX.

1. Targets: world FK joints p; for the six contact joints [7, 10, 8, 11, 20, 21]
   p~[0] = p[0], p~[t] = c[t-1] p~[t-1] + (1 - c[t-1]) p[t] with c = sigmoid(contact logit):
   a joint in contact keeps its previous target. This first-order recurrence is computed with
   `lax.associative_scan` (no loop over frames).
2. CCD IK, 2 iterations, position weight 1 and rotation weight 0, on four chains whose first joint
   keeps its world transform: legs [0, 1, 4, 7, 10] -> targets ankle + foot, [0, 2, 5, 8, 11];
   arms [9, 13, 16, 18, 20] -> wrist, [9, 14, 17, 19, 21]. Per iteration, chain joints
   i = 1 .. n-2 in order (a `lax.fori_loop`): for each target below joint i, the shortest-arc
   rotation taking (end - joint) onto (target - joint), scaled to the fraction w_i = (i + 1) / n of
   its angle (the release's slerp weight; `weighting="full"` uses w = 1, classic CCD), is applied
   to the joint's global rotation; with several targets the rotated x and y axes are averaged.
3. The root is never modified; the new body_pose (joints 1..21) is returned.

Deviation (documented): with two targets the release averages the x and y axes, normalises them and
takes z = x cross y without re-orthogonalising, which is not exactly a rotation; here y is
re-orthogonalised (Gram-Schmidt), so the result is a proper rotation. With one target (the arms,
every joint above the last target) both are identical.
Everything is vectorised over leading axes (frames, batch); jit-safe.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.body import smpl
from genmo_jax.body.rotations import axis_angle_to_matrix, matmul3, matrix_to_axis_angle, matvec3
from genmo_jax.body.skeletons import CONTACT_JOINTS, SMPLX_BODY_PARENTS

CHAINS = ((0, 1, 4, 7, 10), (0, 2, 5, 8, 11), (9, 13, 16, 18, 20), (9, 14, 17, 19, 21))
CHAIN_TARGETS = ((7, 10), (8, 11), (20,), (21,))  # SMPL joints each chain reaches for
NUM_BODY_JOINTS = 22


def contact_targets(joints, contact_logits):
    """Sticky targets of the contact joints: (..., L, 6, 3) positions, (..., L, 6) logits -> (..., L, 6, 3).

    p~[0] = p[0]; p~[t] = c[t-1] p~[t-1] + (1 - c[t-1]) p[t], c = sigmoid(logits).
    """
    joints = jnp.asarray(joints)
    conf = jax.nn.sigmoid(jnp.asarray(contact_logits, joints.dtype))[..., None]
    # y[t] = a[t] y[t-1] + b[t] with a[0] = 0, b[0] = p[0]; composed with an associative scan.
    carry = jnp.concatenate([jnp.zeros_like(conf[..., :1, :, :]), conf[..., :-1, :, :]], axis=-3)
    a = jnp.broadcast_to(carry, joints.shape)
    b = (1.0 - a) * joints

    def combine(first, second):
        a1, b1 = first
        a2, b2 = second
        return a1 * a2, a2 * b1 + b2

    _, targets = jax.lax.associative_scan(combine, (a, b), axis=joints.ndim - 3)
    return targets


def _rotation_between(u, v, fraction):
    """Shortest-arc rotation (..., 3, 3) taking direction u onto v, scaled to `fraction` of its angle."""
    cross = jnp.cross(u, v)
    sin = jnp.linalg.norm(cross, axis=-1, keepdims=True)
    cos = jnp.sum(u * v, axis=-1, keepdims=True)
    angle = jnp.arctan2(sin, cos)
    axis = cross / jnp.maximum(sin, 1e-12)
    return axis_angle_to_matrix(axis * angle * fraction)


def _normalize(x):
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _chain_fk(base_rot, base_pos, local_rots, offsets):
    """Global rotations (..., n, 3, 3) and positions (..., n, 3) of a chain whose joint 0 has the
    fixed world transform (base_rot, base_pos); local_rots (..., n, 3, 3) (entry 0 unused),
    offsets (..., n, 3) rest offsets to each joint's parent (entry 0 unused)."""
    rots, positions = [base_rot], [base_pos]
    for k in range(1, local_rots.shape[-3]):  # n = 5: a fixed, tiny unroll along the chain
        positions.append(positions[-1] + matvec3(rots[-1], offsets[..., k, :]))
        rots.append(matmul3(rots[-1], local_rots[..., k, :, :]))
    return jnp.stack(rots, -3), jnp.stack(positions, -2)


@functools.partial(jax.jit, static_argnames=("iterations", "weighting"))
def ccd_ik_chain(base_rot, base_pos, local_rots, offsets, targets, target_ids, iterations=2, weighting="release"):
    """CCD IK on one serial chain (position targets only), as GVHMR's `CCD_IK.solve`.

    Args:
      base_rot (..., 3, 3), base_pos (..., 3): world transform of chain joint 0 (kept).
      local_rots (..., n, 3, 3): local rotations of the chain joints (entry 0 unused).
      offsets (..., n, 3): rest offset of each joint from its parent, in the parent's frame (m).
      targets (..., T, 3): world target positions of the chain joints `target_ids` ((T,) ints; a
        repeated target counts once: its rotated axes are averaged with themselves).
      iterations: passes over the chain; weighting: "release" (step fraction (i + 1) / n) or "full".
    Returns:
      new local rotations (..., n, 3, 3); joints 1 .. n-2 are updated, 0 and n-1 are kept.
    """
    if weighting not in ("release", "full"):
        raise ValueError(f"weighting must be 'release' or 'full'; got {weighting!r}")
    num = local_rots.shape[-3]
    target_ids = jnp.asarray(target_ids, jnp.int32)

    def update_joint(i, rots_local):
        rots, positions = _chain_fk(base_rot, base_pos, rots_local, offsets)
        pos = jnp.take(positions, i, axis=-2)
        rot = jnp.take(rots, i, axis=-3)
        fraction = (i + 1.0) / num if weighting == "release" else 1.0
        x_sum = jnp.zeros_like(pos)
        y_sum = jnp.zeros_like(pos)
        count = jnp.zeros(pos.shape[:-1] + (1,), pos.dtype)
        for t in range(targets.shape[-2]):
            j = target_ids[t]
            active = (j > i).astype(pos.dtype)  # only targets below the joint move it
            end = jnp.take(positions, j, axis=-2)
            step = _rotation_between(end - pos, targets[..., t, :] - pos, fraction)
            solved = matmul3(step, rot)
            x_sum = x_sum + active * solved[..., :, 0]
            y_sum = y_sum + active * solved[..., :, 1]
            count = count + active
        x = _normalize(x_sum)
        z = _normalize(jnp.cross(x, y_sum))
        y = jnp.cross(z, x)
        solved = jnp.stack([x, y, z], axis=-1)  # columns
        parent_rot = jnp.take(rots, i - 1, axis=-3)
        local = matmul3(jnp.swapaxes(parent_rot, -1, -2), solved)
        keep = jnp.take(rots_local, i, axis=-3)
        local = jnp.where(count[..., None] > 0, local, keep)
        return jax.lax.dynamic_update_index_in_dim(rots_local, local, i, axis=rots_local.ndim - 3)

    def one_pass(_, rots_local):
        return jax.lax.fori_loop(1, num - 1, update_joint, rots_local)

    return jax.lax.fori_loop(0, iterations, one_pass, local_rots)


@functools.partial(jax.jit, static_argnames=("iterations", "weighting"))
def contact_ik(model, betas, global_orient, body_pose, transl, contact_logits, iterations=2, weighting="release"):
    """World-frame contact IK. Returns the new body_pose (..., L, 63) axis-angle of joints 1..21.

    Args:
      model: `smpl.BodyModel` (SMPL, SMPL-H or SMPL-X; the first 22 joints are used).
      betas (..., L, S), global_orient (..., L, 3), body_pose (..., L, 63), transl (..., L, 3):
        world SMPL params (metres, radians); contact_logits (..., L, 6) for joints 7, 10, 8, 11, 20, 21.
    """
    body_pose = jnp.asarray(body_pose)[..., :63]
    contact_logits = jnp.asarray(contact_logits)
    if contact_logits.shape[-1] != len(CONTACT_JOINTS):
        raise ValueError(f"contact_ik: contact logits must be (..., L, 6); got {contact_logits.shape}")
    parents = SMPLX_BODY_PARENTS
    betas = smpl._shape_betas(model, betas)
    lead = jnp.broadcast_shapes(betas.shape[:-1], body_pose.shape[:-1], jnp.shape(global_orient)[:-1])
    rest = jnp.broadcast_to(smpl._rest_joints(model, betas, NUM_BODY_JOINTS), lead + (NUM_BODY_JOINTS, 3))
    pose = jnp.concatenate([jnp.broadcast_to(jnp.asarray(global_orient)[..., None, :], lead + (1, 3)),
                            jnp.broadcast_to(body_pose.reshape(body_pose.shape[:-1] + (21, 3)), lead + (21, 3))], -2)
    local = axis_angle_to_matrix(pose)  # (..., L, 22, 3, 3)
    global_rot, joints = smpl._global_transforms(parents, local, rest)
    joints = joints + jnp.asarray(transl)[..., None, :]
    targets_all = contact_targets(joints[..., np.array(CONTACT_JOINTS), :], contact_logits)
    target_of = {joint: targets_all[..., k, :] for k, joint in enumerate(CONTACT_JOINTS)}
    parent_ids = np.array([max(p, 0) for p in parents])
    offsets = rest - rest[..., parent_ids, :]
    # The four chains have the same length: solve them as one vmapped chain (one compiled body).
    # Arms have one target; it is listed twice, which leaves the averaged axes unchanged.
    chain_ids = np.array(CHAINS)
    padded_targets = [tuple(t) * (2 // len(t)) for t in CHAIN_TARGETS]
    targets = jnp.stack([jnp.stack([target_of[j] for j in t], -2) for t in padded_targets])
    target_ids = jnp.array([[chain.index(j) for j in t] for chain, t in zip(CHAINS, padded_targets)], jnp.int32)
    solve = jax.vmap(functools.partial(ccd_ik_chain, iterations=iterations, weighting=weighting))
    new = solve(jnp.moveaxis(global_rot[..., chain_ids[:, 0], :, :], -3, 0),
                jnp.moveaxis(joints[..., chain_ids[:, 0], :], -2, 0),
                jnp.moveaxis(local[..., chain_ids, :, :], -4, 0),
                jnp.moveaxis(offsets[..., chain_ids, :], -3, 0), targets, target_ids)
    for k, chain in enumerate(CHAINS):
        local = local.at[..., np.array(chain[1:]), :, :].set(new[k][..., 1:, :, :])
    return matrix_to_axis_angle(local[..., 1:, :, :]).reshape(lead + (63,))
