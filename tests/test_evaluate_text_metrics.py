"""Text-to-motion metrics: hand cases and a per-text loop implementation of the definitions."""

import numpy as np
import pytest

from genmo_jax.evaluate import text_metrics as tm


def _loop_r_precision(text, motion, top_k=3):
    """Per-text loop over one group: rank all motions by distance, note where the paired one lands."""
    hits, trace = np.zeros(top_k), 0.0
    for i in range(len(text)):
        distances = [np.linalg.norm(text[i] - m) for m in motion]
        rank = sorted(range(len(motion)), key=lambda j: distances[j]).index(i)
        if rank < top_k:
            hits[rank:] += 1  # a hit for every k > rank
        trace += distances[i]
    return hits, trace


def test_r_precision_and_matching_match_the_reference_batches():
    rng = np.random.default_rng(0)
    text = rng.normal(size=(100, 16))
    motion = text + rng.normal(size=(100, 16)) * 1.2
    r_prec, matching = tm.r_precision_and_matching(text, motion)
    hits, trace = np.zeros(3), 0.0
    for start in range(0, 96, 32):  # the last 4 pairs are dropped (drop_last)
        h, t = _loop_r_precision(text[start:start + 32], motion[start:start + 32])
        hits, trace = hits + h, trace + t
    np.testing.assert_allclose(r_prec, hits / 96)
    np.testing.assert_allclose(matching, trace / 96)
    assert 0 < r_prec[0] < r_prec[1] < r_prec[2] < 1


def test_r_precision_hand_case():
    # 1-D: text i at i, motion i at i + 0.6 -> motion i-1 (distance 0.4) beats the own one (0.6)
    # for every text but the first.
    text = np.arange(32, dtype=float)[:, None]
    r_prec, matching = tm.r_precision_and_matching(text, text + 0.6)
    np.testing.assert_allclose(r_prec, [1 / 32, 1.0, 1.0])
    assert matching == pytest.approx(0.6)
    r_same, mm_same = tm.r_precision_and_matching(text, text)
    np.testing.assert_allclose(r_same, 1.0)
    assert mm_same == pytest.approx(0.0, abs=1e-9)  # no NaN from rounding (the reference can give NaN)
    with pytest.raises(ValueError, match="at least group_size"):
        tm.r_precision_and_matching(text[:10], text[:10])


def test_diversity_and_multimodality():
    assert tm.diversity(np.ones((400, 8)), 300) == pytest.approx(0.0)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    emb = np.random.default_rng(1).normal(size=(350, 4))
    first, second = rng_b.choice(350, 300, replace=False), rng_b.choice(350, 300, replace=False)
    expected = np.linalg.norm(emb[first] - emb[second], axis=1).mean()
    assert tm.diversity(emb, 300, rng_a) == pytest.approx(expected)
    # Two well-separated clusters of generations per prompt: pairs are 0 or 2 apart.
    gens = np.zeros((3, 30, 2))
    gens[:, 15:, 0] = 2.0
    mm = tm.multimodality(gens, 10, np.random.default_rng(2))
    assert 0.0 <= mm <= 2.0
    assert tm.multimodality(np.ones((3, 30, 2)), 10) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="N >= 300"):
        tm.diversity(emb[:100], 300)


def test_evaluate_from_embedding_functions_and_replications():
    rng = np.random.default_rng(3)
    vocabulary = {f"caption {i}": rng.normal(size=8) for i in range(64)}
    texts = list(vocabulary)
    gt_motions = np.stack([vocabulary[t] for t in texts])[:, None, :] + np.zeros((64, 5, 8))
    embed_text = lambda batch: np.stack([vocabulary[t] for t in batch])
    embed_motion = lambda batch: np.asarray(batch).mean(1)
    out = tm.evaluate_text_to_motion(embed_text, embed_motion, texts, gt_motions, gt_motions,
                                     rng=np.random.default_rng(0), diversity_times=50)
    assert out["r_precision_top1"] == pytest.approx(1.0)
    assert out["mm_dist"] == pytest.approx(0.0, abs=1e-9)
    assert out["fid"] == pytest.approx(0.0, abs=1e-6)
    assert out["gt_r_precision_top3"] == pytest.approx(1.0)
    mean, half_width = tm.summarize_replications([1.0, 2.0, 3.0])
    assert mean == 2.0 and half_width == pytest.approx(1.96 * np.std([1, 2, 3]) / np.sqrt(3))
