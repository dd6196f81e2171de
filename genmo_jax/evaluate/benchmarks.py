"""The paper's benchmarks: which metrics each reports, in which units, and the published numbers
to print beside ours (SPEC B 6.5, PEERS.md 2.1-2.5).

Reference numbers are copied from the GENMO paper's tables (and, for rows marked so in PEERS.md,
from secondary summaries: `unverified` lists them). They are only ever displayed, never compared
against in code.
"""

import dataclasses
from typing import Mapping, Tuple


@dataclasses.dataclass(frozen=True)
class Column:
    key: str  # metric key produced by `report.score_*`
    label: str
    better: str  # "lower", "higher" or "closer to real"


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    task: str  # "estimation", "music", "text" or "inbetween"
    description: str
    columns: Tuple[Column, ...]
    references: Mapping[str, Mapping[str, float]]
    source: str
    joint_set: str = "smpl24"
    camera: bool = False  # estimation: camera-frame metrics
    world: bool = False  # estimation: world-frame metrics
    unverified: Tuple[str, ...] = ()


CAMERA_COLUMNS = (
    Column("pa_mpjpe", "PA-MPJPE (mm)", "lower"),
    Column("mpjpe", "MPJPE (mm)", "lower"),
    Column("pve", "PVE (mm)", "lower"),
    Column("accel", "Accel (m/s^2)", "lower"),
)
WORLD_COLUMNS = (
    Column("waa_mpjpe", "WA-MPJPE100 (mm)", "lower"),
    Column("wa2_mpjpe", "W-MPJPE100 (mm)", "lower"),
    Column("rte", "RTE (%)", "lower"),
    Column("jitter", "Jitter (10 m/s^3)", "lower"),
    Column("fs", "Foot sliding (mm)", "lower"),
)
MUSIC_COLUMNS = (
    Column("fid_k", "FID_k", "lower"),
    Column("fid_g", "FID_g", "lower"),
    Column("div_k", "Div_k", "higher"),
    Column("div_g", "Div_g", "higher"),
    Column("pfc", "PFC", "lower"),
    Column("bas", "BAS", "higher"),
)
TEXT_COLUMNS = (
    Column("r_precision_top1", "R@1", "higher"),
    Column("r_precision_top2", "R@2", "higher"),
    Column("r_precision_top3", "R@3", "higher"),
    Column("fid", "FID", "lower"),
    Column("mm_dist", "MM-Dist", "lower"),
    Column("diversity", "Diversity", "closer to real"),
)
INBETWEEN_COLUMNS = (
    Column("pa_mpjpe", "PA-MPJPE @ keys (mm)", "lower"),
    Column("wa_mpjpe", "WA-MPJPE @ keys (mm)", "lower"),
)


def _camera(pa, mpjpe, pve, accel):
    return {"pa_mpjpe": pa, "mpjpe": mpjpe, "pve": pve, "accel": accel}


def _world(wa, w, rte, jitter, fs):
    return {"waa_mpjpe": wa, "wa2_mpjpe": w, "rte": rte, "jitter": jitter, "fs": fs}


# GENMO Tab. 6 gives "a/b" without saying which is WA- and which PA-MPJPE (PEERS.md 2.5). A per-keyframe
# Procrustes fit can never do worse than one similarity fitted on all keyframes, so PA <= WA:
# the smaller number a is read as PA-MPJPE, b as WA-MPJPE.
_INBETWEEN_NOTE = "a/b read as PA/WA (PA <= WA always holds)"

BENCHMARKS = {
    "3dpw": Benchmark(
        "3dpw", "estimation", "3DPW test, camera frame, 14 joints (flip test)", CAMERA_COLUMNS,
        {"GENMO*": _camera(34.6, 53.9, 65.8, 5.2), "GVHMR*": _camera(36.2, 55.6, 67.2, 5.0),
         "WHAM*": _camera(35.9, 57.8, 68.7, 6.6), "TRAM*": _camera(35.6, 59.3, 69.6, 4.9),
         "GENMO w/o 2D": _camera(35.2, 55.4, 67.0, 4.8)},
        "GENMO Tab. 2 (* = trained with 3DPW)", joint_set="3dpw14", camera=True),
    "emdb1": Benchmark(
        "emdb1", "estimation", "EMDB-1, camera frame, 24 joints (flip test)", CAMERA_COLUMNS,
        {"GENMO*": _camera(42.5, 73.0, 84.8, 3.8), "GVHMR*": _camera(42.7, 72.6, 84.2, 3.6),
         "WHAM*": _camera(50.4, 79.7, 94.4, 5.3), "TRAM*": _camera(45.7, 74.4, 86.6, 4.9)},
        "GENMO Tab. 2", camera=True),
    "emdb2": Benchmark(
        "emdb2", "estimation", "EMDB-2, world frame, 24 joints", WORLD_COLUMNS,
        {"GENMO (DROID)": _world(74.3, 202.1, 1.2, 17.8, 8.8), "GENMO (GT extr.)": _world(69.5, 185.9, 0.9, 17.7, 8.6),
         "GVHMR (DPVO)": _world(111.0, 276.5, 2.0, 16.7, 3.5), "WHAM (DPVO)": _world(135.6, 354.8, 6.0, 22.5, 4.4),
         "TRAM (DROID)": {"waa_mpjpe": 76.4, "wa2_mpjpe": 222.4, "rte": 1.4}},
        "GENMO Tab. 1", world=True),
    "rich": Benchmark(
        "rich", "estimation", "RICH test, camera and world frame, 24 joints", CAMERA_COLUMNS + WORLD_COLUMNS,
        {"GENMO*": {**_camera(39.1, 66.8, 75.4, 4.1), **_world(75.3, 118.6, 1.9, 15.0, 6.7)},
         "GVHMR*": {**_camera(39.5, 66.0, 74.4, 4.1), **_world(78.8, 126.3, 2.4, 12.8, 3.0)},
         "WHAM*": {**_camera(44.3, 80.0, 91.2, 5.3), **_world(109.9, 184.6, 4.1, 19.7, 3.3)}},
        "GENMO Tabs. 1-2", camera=True, world=True),
    "aistpp": Benchmark(
        "aistpp", "music", "AIST++ crossmodal test, music-to-dance", MUSIC_COLUMNS,
        {"Ground truth": {"fid_k": 17.10, "fid_g": 10.60, "div_k": 8.19, "div_g": 7.45, "bas": 0.2374},
         "Bailando": {"fid_k": 28.16, "fid_g": 9.62, "div_k": 7.83, "div_g": 6.34, "pfc": 1.754, "bas": 0.2332},
         "EDGE": {"fid_k": 42.16, "fid_g": 22.12, "pfc": 1.5363, "bas": 0.2334},
         "GENMO music-only": {"fid_k": 16.10, "fid_g": 13.91, "pfc": 0.7340, "bas": 0.2282},
         "GENMO generalist": {"fid_k": 40.91, "fid_g": 18.51, "pfc": 0.3702, "bas": 0.2708}},
        "Bailando table, EDGE issue #24, GENMO Tab. 3 via summaries",
        unverified=("Bailando", "EDGE", "GENMO music-only", "GENMO generalist")),
    "humanml3d": Benchmark(
        "humanml3d", "text", "HumanML3D test, Guo et al. evaluator", TEXT_COLUMNS,
        {"Real": {"r_precision_top1": 0.511, "r_precision_top2": 0.703, "r_precision_top3": 0.797, "fid": 0.002,
                  "mm_dist": 2.974, "diversity": 9.503},
         "GENMO (SMPL rep.)": {"r_precision_top3": 0.632, "fid": 0.216, "mm_dist": 3.466, "diversity": 11.342},
         "MDM (fixed eval)": {"r_precision_top1": 0.418, "r_precision_top2": 0.604, "r_precision_top3": 0.707,
                              "fid": 0.489, "mm_dist": 3.63, "diversity": 9.45}},
        "MotionLCM Tab. 1, GENMO Tab. 4, MDM fixed_results"),
    "motionx": Benchmark(
        "motionx", "text", "Motion-X test, GENMO's CLIP-based evaluator", TEXT_COLUMNS,
        {"Real": {"r_precision_top3": 0.791, "fid": 0.001, "mm_dist": 2.823, "diversity": 11.702},
         "MDM": {"r_precision_top3": 0.313, "fid": 2.389, "mm_dist": 6.745, "diversity": 8.720},
         "GENMO": {"r_precision_top3": 0.472, "fid": 0.207, "mm_dist": 4.801, "diversity": 11.719}},
        "GENMO Tab. 5"),
    "inbetween2": Benchmark(
        "inbetween2", "inbetween", "HumanML3D in-betweening, 2 keyframes (min over samples)", INBETWEEN_COLUMNS,
        {"GENMO": {"pa_mpjpe": 53.5, "wa_mpjpe": 85.3}, "GENMO diffusion-only": {"pa_mpjpe": 71.6, "wa_mpjpe": 98.8}},
        "GENMO Tab. 6; " + _INBETWEEN_NOTE),
    "inbetween5": Benchmark(
        "inbetween5", "inbetween", "HumanML3D in-betweening, 5 keyframes (min over samples)", INBETWEEN_COLUMNS,
        {"GENMO": {"pa_mpjpe": 37.1, "wa_mpjpe": 58.5}, "GENMO diffusion-only": {"pa_mpjpe": 46.3, "wa_mpjpe": 70.4}},
        "GENMO Tab. 6; " + _INBETWEEN_NOTE),
}


def get_benchmark(name):
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]
