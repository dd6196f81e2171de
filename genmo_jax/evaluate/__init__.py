"""Evaluation: the paper's metrics as pure functions of arrays, and the benchmark runner.

- `alignment`: weighted Umeyama / Procrustes (similarity or rigid), jnp.
- `frames`: per-frame values with validity (`PerFrame`) and the frame-weighted mean.
- `joint_sets`: joints regressed from SMPL vertices (24-joint and 3DPW 14-joint regressors), SMPL-X -> SMPL.
- `postprocess`, `contact_ik`: the static-joint translation fix and the contact IK of the
  estimation benchmarks (SPEC B 6.4).
- `flip_test`: mirroring and averaging of the flipped estimation pass (3DPW, EMDB protocol).
- `estimation`: MPJPE, PA-MPJPE, PVE, Accel, W-/WA-MPJPE100, RTE, Jitter, foot sliding (jnp, jit).
- `motion_features`: kinetic (72-d) and geometric (32-d) AIST++ dance features (numpy).
- `generation`: FID, diversity, FID_k/FID_g/Div_k/Div_g, BAS (three variants), PFC, keyframe
  errors, trajectory-control fail rates, foot skating ratio.
- `text_metrics`: R-precision, MM-Dist, FID, Diversity, MultiModality from any embedding pair.
- `humanml3d_features`: HumanML3D's 263-d features from 22 joints (the evaluator's input).
- `t2m_evaluator`: the HumanML3D (Guo et al.) evaluator in JAX, loaded from its published checkpoint.
- `test_files`, `fixtures`: readers of the official EMDB / RICH / 3DPW test files (torch-free) and
  writers of small folders in the same layout.
- `estimation_runner`, `generation_runner` (+ `generation_data`, `generation_sampler`): a params
  folder run on a benchmark's test files.
- `benchmarks`, `report`, `__main__`: `python -m genmo_jax.evaluate` runs a params folder or scores
  prediction files and writes the paper-style table (JSON + Markdown) with the published numbers
  beside ours.
- `procedural/`: the always-available procedural benchmark and its retrieval evaluator.

Each module's docstring lists the reference code it follows and every choice made where the
references are ambiguous or disagree.
"""
