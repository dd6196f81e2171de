"""Scores a benchmark from prediction arrays and writes the paper-style table (Markdown + JSON).

The scoring functions take plain arrays per sequence (what a sampler or an exported prediction
file provides), pool them as the reference protocols do, and return {metric key: value} with the
keys of `benchmarks.Column`. `render_markdown` / `write_report` put our row under the paper's rows.
"""

import datetime
import json
import math
import os

import numpy as np

from genmo_jax.evaluate import estimation, generation, humanml3d_features, joint_sets, text_metrics
from genmo_jax.evaluate.frames import frame_mean


def score_estimation(sequences, benchmark, chunking="gvhmr", joint_regressor=None):
    """Estimation benchmark from per-sequence dicts of arrays (metres, 30 fps):

    camera: pred_joints, gt_joints (L, J, 3), optional pred_vertices, gt_vertices (L, V, 3);
    world: pred_joints_world, gt_joints_world, optional pred_vertices_world, gt_vertices_world;
    optional mask (L,) of valid frames. Per-frame values of all sequences are pooled.
    joint_regressor: (J, V) matrix (`joint_sets.load_matrix`); when given, the joints are regressed
    from the vertices (the benchmarks' protocol) and the joint arrays may be absent.
    """
    pooled = {}
    for index, seq in enumerate(sequences):
        if joint_regressor is not None:
            seq = dict(seq)
            for prefix in ("pred", "gt"):
                for suffix in ("", "_world"):
                    if f"{prefix}_vertices{suffix}" in seq:
                        seq[f"{prefix}_joints{suffix}"] = np.asarray(joint_sets.regress_joints(
                            seq[f"{prefix}_vertices{suffix}"], joint_regressor))
        mask = seq.get("mask")
        found = {}
        if benchmark.camera:
            _require(seq, ("pred_joints", "gt_joints"), index)
            found.update(estimation.camera_metrics(
                seq["pred_joints"], seq["gt_joints"], seq.get("pred_vertices"), seq.get("gt_vertices"),
                mask=mask, joint_set=benchmark.joint_set))
        if benchmark.world:
            _require(seq, ("pred_joints_world", "gt_joints_world"), index)
            found.update(estimation.global_metrics(
                seq["pred_joints_world"], seq["gt_joints_world"], seq.get("pred_vertices_world"),
                seq.get("gt_vertices_world"), mask=mask, chunking=chunking))
        for key, per_frame in found.items():
            pooled.setdefault(key, []).append(per_frame)
    if not pooled:
        raise ValueError("score_estimation: no sequences")
    return {key: frame_mean(items) for key, items in pooled.items()}


def score_music(generated, gt_joints, fps=30.0, bas_variant="bailando"):
    """AIST++ metrics: generated = [(joints (T, 24, 3), music beat frames (K,))], gt_joints = [(T, 24, 3)],
    all at `fps`. BAS and PFC use `fps`; the FID/Div features are computed at 60 fps (the reference's
    constant), resampling by linear interpolation when `fps` differs (first 1200 frames at 60 fps)."""
    if not generated or len(gt_joints) < 2:
        raise ValueError("score_music needs generated dances and at least two GT dances")

    def features(joints):
        if fps != 60.0:
            joints = humanml3d_features.resample(joints, fps, 60.0)
        return generation.aist_features(joints, frame_time=1.0 / 60)

    gen_features = [features(j) for j, _ in generated]
    gt_features = [features(j) for j in gt_joints]
    out = generation.dance_feature_metrics(
        np.stack([k for k, _ in gen_features]), np.stack([g for _, g in gen_features]),
        np.stack([k for k, _ in gt_features]), np.stack([g for _, g in gt_features]))
    out["pfc"] = generation.physical_foot_contact([j for j, _ in generated], fps)
    out["bas"] = float(np.mean([generation.beat_alignment_score(b, j, bas_variant) for j, b in generated]))
    return out


def score_text(text_embeddings, gen_motion_embeddings, gt_motion_embeddings, replications=20, seed=0,
               diversity_times=300):
    """HumanML3D-style metrics averaged over `replications` shuffles; adds `<key>_ci95` half-widths.

    The published protocol generates new motions in every replication; with one fixed set of
    embeddings the replications only vary the R-precision grouping and the Diversity draws, so the
    half-widths understate the protocol's spread. Run generation R times and pool to match it.
    """
    runs = []
    for r in range(replications):
        rng = np.random.default_rng(seed + r)
        runs.append(text_metrics.text_motion_metrics(text_embeddings, gen_motion_embeddings, gt_motion_embeddings,
                                                     rng, diversity_times=diversity_times))
    out = {}
    for key in runs[0]:
        mean, half_width = text_metrics.summarize_replications([run[key] for run in runs])
        out[key], out[key + "_ci95"] = mean, half_width
    return out


def score_inbetween(samples):
    """samples: [(pred_joints (S, T, J, 3) noise samples, gt_joints (T, J, 3), keyframes (K,))].

    Per test motion the minimum over its samples, then the mean over motions.
    """
    per_motion = []
    for preds, gt, keys in samples:
        per_sample = [generation.keyframe_errors(pred, gt, keys) for pred in np.asarray(preds)]
        per_motion.append(generation.min_over_samples(per_sample))
    if not per_motion:
        raise ValueError("score_inbetween: no samples")
    return {key: float(np.mean([m[key] for m in per_motion])) for key in per_motion[0]}


def _require(seq, keys, index):
    missing = [k for k in keys if k not in seq]
    if missing:
        raise ValueError(f"sequence {index}: missing arrays {missing}")


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}".rstrip("0").rstrip(".")  # 0.2374, 0.9, 0


def render_markdown(benchmark, ours, label="genmo-jax (ours)", notes=()):
    """A Markdown table: the paper's rows, then ours; blank cells where a row lacks a metric."""
    header = "| Method | " + " | ".join(c.label for c in benchmark.columns) + " |"
    rule = "|---|" + "---|" * len(benchmark.columns)
    lines = [f"### {benchmark.description}", "", header, rule]
    for method, values in benchmark.references.items():
        mark = " [unverified]" if method in benchmark.unverified else ""
        lines.append(f"| {method}{mark} | " + " | ".join(_cell(values.get(c.key)) for c in benchmark.columns) + " |")
    lines.append(f"| **{label}** | " + " | ".join(_cell(ours.get(c.key)) for c in benchmark.columns) + " |")
    lines += ["", f"Reference rows: {benchmark.source}. Better: "
              + ", ".join(f"{c.label} {c.better}" for c in benchmark.columns) + "."]
    lines += [f"{note}" for note in notes]
    return "\n".join(lines) + "\n"


def write_report(out_dir, benchmark, ours, settings=None, label="genmo-jax (ours)", notes=()):
    """Writes `<benchmark>.json` (ours, references, settings) and `<benchmark>.md`; returns the Markdown."""
    os.makedirs(out_dir, exist_ok=True)
    markdown = render_markdown(benchmark, ours, label, notes)
    record = {
        "benchmark": benchmark.name,
        "description": benchmark.description,
        "ours": {k: float(v) for k, v in ours.items()},
        "references": {m: dict(v) for m, v in benchmark.references.items()},
        "reference_source": benchmark.source,
        "settings": settings or {},
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    with open(os.path.join(out_dir, f"{benchmark.name}.json"), "w") as f:
        json.dump(record, f, indent=2)
    with open(os.path.join(out_dir, f"{benchmark.name}.md"), "w") as f:
        f.write(markdown)
    return markdown
