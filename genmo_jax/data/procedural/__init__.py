"""The procedural motion world (SPEC A / issue 6 item 4): plausible, deterministic-by-seed
motions on the SMPL 24-joint tree with per-segment captions, planted feet and, for dance clips,
beat-synchronised synthetic music. `python -m genmo_jax.data.procedural --clips N --out DIR`
writes shards of schema records."""

from genmo_jax.data.procedural.captions import LABELS, label_of_caption
from genmo_jax.data.procedural.skeleton import RestSkeleton
from genmo_jax.data.procedural.world import generate_clip

__all__ = ["LABELS", "RestSkeleton", "generate_clip", "label_of_caption"]
