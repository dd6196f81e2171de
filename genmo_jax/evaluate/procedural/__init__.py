"""The procedural benchmark (issue 9 item 5): held-out clips of the procedural world scored for
estimation, text-to-motion, music-to-dance and in-betweening with the paper's metrics.

    python -m genmo_jax.evaluate.procedural --params DIR --out DIR [--clips N] [--quick]

- `heldout`: the held-out clips (fixed seeds, one function per task).
- `retrieval`: the text-motion retrieval evaluator trained on the procedural world (the embedding
  space of R-precision, FID, MM-Dist, Diversity, MultiModality).
- `benchmark`: batched sampling of an exported model on those clips, scoring, reference rows.
"""
