"""Text-to-motion metrics of the HumanML3D protocol (Guo et al.), from any embedding pair.

R-precision (top 1/2/3), MM-Dist ("matching score"), FID, Diversity and MultiModality,
exactly as `utils/metrics.py` + `final_evaluations.py` of EricGuo5513/text-to-motion (copied in
MDM and MotionLCM) compute them from 512-d text and motion embeddings (PEERS.md 3.1, 3.6, 3.7 #8).
The embedding functions are passed in: the Guo et al. evaluator (`t2m_evaluator`), a retrieval
model trained on the procedural world, or any other (text, motion) pair.

- R-precision: the N pairs are split into consecutive groups of `group_size` (32; MDM: "otherwise
  it will cause a bug in R precision"), the last incomplete group is dropped (MDM's
  `drop_last=True`); in each group the Euclidean distance matrix text (rows) x motion (columns) is
  ranked per row; top-k hit when the paired motion is among the k nearest. Result = hits / number
  of ranked pairs. `rng` shuffles the pairs first (MotionLCM shuffles; MDM relies on its loader
  order); pass None to keep the order.
- MM-Dist: sum of the paired distances (the diagonals) / number of ranked pairs (same groups).
- FID: `generation.frechet_distance` of GT vs generated motion embeddings.
- Diversity: two independent draws of `times` (300) indices *without* replacement; mean distance
  of the paired embeddings.
- MultiModality: embeddings (prompts, generations per prompt, D); per prompt two draws of
  `times` (10) generation indices without replacement; mean distance.
- Distances are norms of differences; the reference expands |a|^2 + |b|^2 - 2 a.b, which can give
  NaN for near-identical pairs (PEERS.md 3.7 #8); this is our only deviation.
- Replications: the protocol repeats everything (20 times for HumanML3D, 5 in GENMO) and reports
  mean +- 1.96 std / sqrt(R): `summarize_replications`.
"""

from typing import Callable, Sequence

import numpy as np

from genmo_jax.evaluate.generation import frechet_distance


def euclidean_distance_matrix(a, b):
    """(..., N, D), (..., M, D) -> (..., N, M) Euclidean distances (float64), from differences."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a[..., :, None, :] - b[..., None, :, :], axis=-1)


def _check_pairs(text_embeddings, motion_embeddings):
    text = np.asarray(text_embeddings, np.float64)
    motion = np.asarray(motion_embeddings, np.float64)
    if text.ndim != 2 or text.shape != motion.shape:
        raise ValueError(f"text and motion embeddings must both be (N, D); got {text.shape} and {motion.shape}")
    return text, motion


def r_precision_and_matching(text_embeddings, motion_embeddings, group_size=32, top_k=3, rng=None):
    """-> (R-precision (top_k,) for k = 1..top_k, MM-Dist) over groups of `group_size` pairs."""
    text, motion = _check_pairs(text_embeddings, motion_embeddings)
    if rng is not None:
        order = rng.permutation(len(text))
        text, motion = text[order], motion[order]
    num_groups = len(text) // group_size
    if num_groups == 0:
        raise ValueError(f"R-precision needs at least group_size={group_size} pairs; got {len(text)}")
    used = num_groups * group_size
    text = text[:used].reshape(num_groups, group_size, -1)
    motion = motion[:used].reshape(num_groups, group_size, -1)
    # One group at a time: the difference tensor of a group is (S, S, D), of all groups G times more.
    dist = np.stack([euclidean_distance_matrix(t, m) for t, m in zip(text, motion)])  # (G, S, S)
    ranking = np.argsort(dist, axis=-1)[..., :top_k]  # nearest motions per text
    own = np.arange(group_size)[None, :, None]
    hits = np.cumsum(ranking == own, axis=-1) > 0  # (G, S, k): own motion within the first k
    r_precision = hits.reshape(used, top_k).mean(0)
    matching = np.trace(dist, axis1=1, axis2=2).sum() / used
    return r_precision, float(matching)


def diversity(embeddings, times=300, rng=None):
    """Mean distance between two random draws (each without replacement) of `times` embeddings."""
    embeddings = np.asarray(embeddings, np.float64)
    if embeddings.ndim != 2 or len(embeddings) < times:
        raise ValueError(f"diversity needs (N >= {times}, D) embeddings; got {embeddings.shape}")
    rng = np.random.default_rng(0) if rng is None else rng
    first = rng.choice(len(embeddings), times, replace=False)
    second = rng.choice(len(embeddings), times, replace=False)
    return float(np.linalg.norm(embeddings[first] - embeddings[second], axis=1).mean())


def multimodality(embeddings, times=10, rng=None):
    """(prompts, generations, D) embeddings -> mean distance of `times` random pairs per prompt."""
    embeddings = np.asarray(embeddings, np.float64)
    if embeddings.ndim != 3 or embeddings.shape[1] < times:
        raise ValueError(f"multimodality needs (P, S >= {times}, D) embeddings; got {embeddings.shape}")
    rng = np.random.default_rng(0) if rng is None else rng
    first = rng.choice(embeddings.shape[1], times, replace=False)
    second = rng.choice(embeddings.shape[1], times, replace=False)
    return float(np.linalg.norm(embeddings[:, first] - embeddings[:, second], axis=2).mean())


def embed_in_batches(embed_fn: Callable, items: Sequence, batch_size=32):
    """Applies `embed_fn` to consecutive slices of `items` (list or array) -> (N, D) numpy."""
    outputs = [np.asarray(embed_fn(items[i:i + batch_size])) for i in range(0, len(items), batch_size)]
    return np.concatenate(outputs, axis=0)


def text_motion_metrics(text_embeddings, gen_motion_embeddings, gt_motion_embeddings, rng=None,
                        group_size=32, diversity_times=300):
    """One replication of the table row from paired embeddings (N, D) (texts paired with gen).

    Returns R@1, R@2, R@3, MM-Dist and Diversity of the generated motions, FID vs GT, and the
    same R-precision / MM-Dist / Diversity for the GT motions ("Real" row) under the same grouping.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    order = rng.permutation(len(text_embeddings))
    text = np.asarray(text_embeddings)[order]
    gen = np.asarray(gen_motion_embeddings)[order]
    gt = np.asarray(gt_motion_embeddings)
    r_gen, mm_gen = r_precision_and_matching(text, gen, group_size)
    out = {f"r_precision_top{k + 1}": float(r) for k, r in enumerate(r_gen)}
    out.update(mm_dist=mm_gen, fid=frechet_distance(gt, gen),
               diversity=diversity(gen, min(diversity_times, len(gen)), rng))
    if len(gt) == len(text):
        r_gt, mm_gt = r_precision_and_matching(text, gt[order], group_size)
        out.update({f"gt_r_precision_top{k + 1}": float(r) for k, r in enumerate(r_gt)})
        out.update(gt_mm_dist=mm_gt, gt_diversity=diversity(gt, min(diversity_times, len(gt)), rng))
    return out


def evaluate_text_to_motion(embed_text: Callable, embed_motion: Callable, texts: Sequence,
                            gen_motions: Sequence, gt_motions: Sequence, rng=None, batch_size=32,
                            diversity_times=300):
    """`text_motion_metrics` from embedding functions: embed_text(texts[i:j]) -> (n, D),
    embed_motion(motions[i:j]) -> (n, D); motions are any sliceable sequence the function accepts."""
    if not len(texts) == len(gen_motions):
        raise ValueError(f"texts ({len(texts)}) and generated motions ({len(gen_motions)}) must pair up")
    text = embed_in_batches(embed_text, texts, batch_size)
    gen = embed_in_batches(embed_motion, gen_motions, batch_size)
    gt = embed_in_batches(embed_motion, gt_motions, batch_size)
    return text_motion_metrics(text, gen, gt, rng, batch_size, diversity_times)


def summarize_replications(values):
    """Replicated metric values (R,) -> (mean, 95% half-width 1.96 std / sqrt(R)), as the papers."""
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence; got shape {values.shape}")
    return float(values.mean()), float(1.96 * values.std() / np.sqrt(values.size))
