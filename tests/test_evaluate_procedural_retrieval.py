"""The procedural benchmark's retrieval evaluator and held-out clips: feature invariances, the
contrastive loss and training, the committed weights' sanity, determinism of the held-out sets."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.data.procedural import captions as cap
from genmo_jax.data.procedural.__main__ import load_skeleton
from genmo_jax.evaluate import report
from genmo_jax.evaluate.procedural import heldout, retrieval


@pytest.fixture(scope="module")
def skeleton():
    return load_skeleton("open")


@pytest.fixture(scope="module")
def clips(skeleton):
    return heldout.text_clips(skeleton, 32, max_frames=60)


@pytest.fixture(scope="module")
def padded(clips):
    return retrieval.pad_motions(clips, 60)


def test_held_out_sets_are_deterministic_balanced_and_disjoint(skeleton, clips):
    again = heldout.text_clips(skeleton, 32, max_frames=60)
    for a, b in zip(clips, again):
        np.testing.assert_array_equal(a["body_pose"], b["body_pose"])
        assert a["caption"] == b["caption"]
    labels = [c["label"] for c in clips]
    assert labels[:len(heldout.TEXT_LABELS)] == list(heldout.TEXT_LABELS)   # every label once, in order
    assert all(cap.label_of_caption(c["caption"]) == c["label"] for c in clips)
    other = heldout.text_clips(skeleton, 4, seed=heldout.RETRIEVAL_SEED, max_frames=60)
    assert not any(np.allclose(a["transl"][:10], b["transl"][:10]) for a in clips for b in other)
    # seeds of the benchmark never equal a training seed used in this repo
    assert len({heldout.HELDOUT_SEED, heldout.REFERENCE_SEED, heldout.RETRIEVAL_SEED, 0, 11, 12345}) == 6


def test_estimation_samples_have_2d_and_camera_but_no_images(skeleton):
    data = heldout.estimation_samples(skeleton, 2, length=40)
    assert data["obs"].shape == (2, 40, 17, 3)
    assert data["has_cam_mask"].all() and data["has_2d_mask"].any() and not data["has_img_mask"].any()
    np.testing.assert_array_equal(data["obs"], heldout.estimation_samples(skeleton, 2, length=40)["obs"])


def _yaw_shift(joints, yaw, shift):
    rot = Rotation.from_rotvec([0.0, yaw, 0.0]).as_matrix()
    return np.einsum("ij,...j->...i", rot, joints) + shift


def test_motion_features_ignore_world_yaw_origin_floor_and_padding(padded):
    joints, length = padded
    base = np.asarray(retrieval.motion_features(joints, length))
    moved = np.asarray(retrieval.motion_features(_yaw_shift(joints, 1.3, np.array([2.0, 0.4, -3.0])), length))
    np.testing.assert_allclose(moved, base, atol=2e-4)
    # velocities are finite differences x 30 of the canonical positions (frame 0: root on the origin)
    assert np.abs(base[:, 0, 72:75][:, [0, 2]]).max() < 1e-5
    # zeroed padding, and the embedding does not depend on how much padding follows a clip
    assert np.all(base[0, length[0]:] == 0)
    model = retrieval.Evaluator(retrieval.RetrievalModel(0))
    longer = np.concatenate([joints, np.repeat(joints[:, -1:], 20, 1)], 1)
    np.testing.assert_allclose(model.embed_motion(longer, length), model.embed_motion(joints, length), atol=1e-5)


def test_caption_keys_merge_paraphrases_and_prefixes_only():
    assert retrieval.caption_key("a person walks forward") == retrieval.caption_key("then walks straight ahead")
    assert retrieval.caption_key("a person walks forward slowly") == "walk/slow"
    assert retrieval.caption_key("a person turns left") != retrieval.caption_key("a person turns around to the left")


def test_contrastive_loss_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    text, motion = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    keys = np.array([0, 1, 1, 2, 3, 3])
    same = keys[:, None] == keys[None]
    logits = -((text[:, None] - motion[None]) ** 2).sum(-1)

    def ce(lg, sm):
        target = sm / sm.sum(1, keepdims=True)
        logp = lg - np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1, keepdims=True)) - lg.max(1, keepdims=True)
        return -(target * logp).sum(1).mean()

    expected = 0.5 * (ce(logits, same) + ce(logits.T, same.T))
    got = float(retrieval.contrastive_loss(text.astype(np.float32), motion.astype(np.float32), same))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_training_decreases_the_loss(clips, padded):
    joints, length = padded
    # sentence side: one fixed random vector per caption key (no MiniLM here: faster, same task)
    names = sorted({retrieval.caption_key(c["caption"]) for c in clips})
    keys = np.array([names.index(retrieval.caption_key(c["caption"])) for c in clips], np.int32)
    table = np.random.default_rng(1).normal(size=(len(names), retrieval.TEXT_DIM)).astype(np.float32)
    model, losses = retrieval.train(table[keys], joints, length, keys, steps=60, batch=32, seed=0)
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()
    # trained on these pairs, the nearest motion of each text has its key (retrieval works)
    evaluator = retrieval.Evaluator(model)
    text, motion = evaluator.embed_sentences(table[keys]), evaluator.embed_motion(joints, length)
    nearest = np.argmin(((text[:, None] - motion[None]) ** 2).sum(-1), 1)
    assert np.mean(keys[nearest] == keys) > 0.8


def test_identical_embeddings_score_perfectly():
    emb = np.random.default_rng(0).normal(size=(64, 8))
    out = report.score_text(emb, emb, emb, replications=3, diversity_times=64)
    assert out["r_precision_top1"] == 1.0 and out["mm_dist"] == 0.0
    assert abs(out["fid"]) < 1e-6


def test_committed_evaluator_retrieves_held_out_real_motions(clips):
    evaluator = retrieval.load_or_train()          # the committed weights: never trains here
    assert evaluator.info["sanity"]["real_r_precision"][2] > 0.9
    figures = retrieval.sanity_figures(evaluator, clips)
    assert figures["real_r_precision"][0] > 0.4     # ceiling ~0.58: same-key pairs share a group
    assert figures["shuffled_r_precision"][0] < 0.2  # chance 1/32
    assert figures["key_r1_all"] > 0.9


def test_missing_evaluator_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights.safetensors"):
        retrieval.load(str(tmp_path))
