"""Evaluation: the paper's metrics as pure functions of arrays, and the benchmark runners.

Modules: `alignment` (Umeyama/Procrustes), `frames` (per-frame values, frame-weighted mean),
`estimation` (MPJPE, PA-MPJPE, PVE, Accel, W-/WA-MPJPE100, RTE, Jitter, foot sliding).
"""
