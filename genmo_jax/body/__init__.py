"""Geometry ground floor: rotations, skeleton tables, SMPL-family body models (docs/CONVENTIONS.md).

rotations.py   axis-angle / matrix / quaternion (w, x, y, z) / 6D (first two rows) conversions
skeletons.py   SMPL 24 / SMPL-X 22 / COCO-17 names, parents, flips, contact joints
smpl.py        BodyModel, load_body_model, skeleton_forward (FK), forward (LBS), coco17_joints
open_body*.py  the built-in open body (ANNY mapped onto the SMPL tree, SMPL file layout)
select.py      the body model a config names (`body.model`: "open" or a path)
"""

from genmo_jax.body.open_body import open_body_path

__all__ = ["open_body_path"]
