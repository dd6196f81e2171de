"""Generation benchmarks from a params folder (`generation_runner.evaluate_params`) on test folders
written in each dataset's official layout, with the random-weight tiny export of conftest.py:
numbers are meaningless, the pipeline, shapes and table are exercised. Sanity checks score GT
against GT (FID 0) and read the fixture music's beats."""

import argparse
import json
import math
import pickle

import numpy as np
import pytest

from genmo_jax.data import fixtures
from genmo_jax.data.converters.common import default_rest_joints
from genmo_jax.evaluate import benchmarks, generation_data, generation_runner, report, t2m_evaluator
from genmo_jax.evaluate.generation_sampler import BatchSampler, item_noise

AIST_SEQUENCES = ["gBR_sBM_cAll_d04_mBR0_ch01", "gPO_sFM_cAll_d10_mPO1_ch02", "gHO_sBM_cAll_d19_mHO2_ch03"]


def _args(params, data, *extra):
    parser = generation_runner.add_arguments(argparse.ArgumentParser())
    parser.add_argument("--params")
    parser.add_argument("--data")
    args = parser.parse_args(["--params", params, "--data", str(data), "--ddim-steps", "2", *extra])
    return args


@pytest.fixture(scope="module")
def aist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("aistpp")
    fixtures.write_aistpp(root, with_music=True)   # splits/crossmodal_test.txt: the 3rd is ignored
    return root


@pytest.fixture(scope="module")
def humanml_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("humanml3d")
    fixtures.write_amass(root / "amass")
    fixtures.write_humanml3d(root, root / "amass")
    # The fixture's test.txt lists each id once; R-precision ranks groups of 32 pairs: list the
    # two AMASS clips (3 captions) 11 times (33 pairs).
    (root / "test.txt").write_text("000000\n000001\n" * 11)
    return root


def test_batch_sampler_equals_make_sampler_with_padding_and_batch_mates(tiny_random_export):
    import jax
    import jax.numpy as jnp

    from genmo_jax import load_params
    from genmo_jax import sample as sample_lib
    from genmo_jax import timeline as timeline_lib
    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.motion.normalization import NormStats

    exported = load_params(tiny_random_export)
    body = body_model_from_config(exported.config.body)
    rng = np.random.default_rng(0)
    n = 20
    keys = {"global_orient": rng.normal(scale=0.3, size=(2, 3)).astype(np.float32),
            "body_pose": rng.normal(scale=0.2, size=(2, 63)).astype(np.float32)}
    frames = np.array([0, 13])
    tl = timeline_lib.Timeline(num_frames=n, ddim_steps=2, intrinsics=timeline_lib.default_intrinsics(1000, 1000),
                               keyframes=keys, keyframe_frames=frames)
    stats = NormStats(mean=jnp.asarray(exported.stats["mean"]), std=jnp.asarray(exported.stats["std"]))
    key = jax.random.key(7)
    jitted, state = sample_lib.make_sampler(exported.model, exported.config, tl, stats)
    reference = sample_lib.decode_outputs(jitted(state, key), tl, stats, body)[0]

    noise = np.asarray(jax.random.normal(key, (1, n, 151)))[0]
    sampler = BatchSampler(exported, body, num_frames=32, batch_size=2, ddim_steps=2)
    mate = dict(num_frames=32, noise=item_noise(1, 1, 32), keyframes=dict(keys, frames=np.array([3, 30])))
    ours = sampler.sample([dict(num_frames=n, noise=noise, keyframes=dict(keys, frames=frames)), mate])
    assert ours[0]["joints_w"].shape == (n, 24, 3) and ours[1]["joints_w"].shape == (32, 24, 3)
    for name in ("joints_w", "transl_w", "global_orient_w", "body_pose"):
        np.testing.assert_allclose(ours[0][name], reference[name], atol=2e-5, err_msg=name)
    assert not np.allclose(ours[0]["joints_w"][:20], ours[1]["joints_w"][:20], atol=1e-3)
    with pytest.raises(ValueError, match="noise must be"):
        sampler.sample([dict(num_frames=n, noise=noise[:5])])


def test_aistpp_gt_against_gt_and_music_beats(aist_root):
    pieces = generation_data.aistpp_test_set(aist_root, fixtures.synthetic_rest_joints)
    assert [p["name"] for p in pieces] == AIST_SEQUENCES[:2]  # the ignored one is skipped
    first = pieces[0]
    assert first["joints"].shape == (61, 24, 3) and first["music"].shape == (61, 35)  # 121 frames at 60 fps
    beats = first["music_beats"]
    assert len(beats) >= 2 and abs(np.median(np.diff(beats)) - 15) <= 1  # the 120-bpm click: every 0.5 s
    ours = generation_runner.score_dances(pieces, [p["joints"] for p in pieces])
    # z-scored features: tr(S) is ~ the feature count (72, 32); FID 0 up to the eigen-solver's rounding.
    assert ours["fid_k"] == pytest.approx(0, abs=1e-3) and ours["fid_g"] == pytest.approx(0, abs=1e-3)
    assert ours["bas"] == pytest.approx(ours["bas_gt"]) and 0.05 < ours["bas_gt"] <= 1.0
    assert ours["div_k"] == pytest.approx(ours["div_k_gt"]) and ours["div_k"] > 0
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        generation_data.aistpp_test_set(aist_root, fixtures.synthetic_rest_joints, aist_root / "nope.txt")


def test_aistpp_end_to_end_through_the_cli(aist_root, tiny_random_export, tmp_path, capsys):
    from genmo_jax.evaluate.__main__ import main

    out = tmp_path / "out"
    assert main(["--params", tiny_random_export, "--data", str(aist_root), "--benchmark", "aistpp", "--ddim-steps", "2",
                 "--max-seconds", "1.5", "--out", str(out)]) == 0
    bench = benchmarks.get_benchmark("aistpp")
    record = json.loads((out / "aistpp.json").read_text())
    ours, settings = record["ours"], record["settings"]
    assert set(ours) >= {c.key for c in bench.columns} and all(math.isfinite(v) for v in ours.values())
    assert settings["pieces"] == 2 and settings["max_frames"] == 45 and settings["ddim_steps"] == 2
    assert settings["conditions"] == "music only" and settings["bas_variant"] == "bailando"
    table = (out / "aistpp.md").read_text()
    assert "**genmo-jax (ours)**" in table and "Ours: 2 crossmodal test pieces, music only" in table
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--benchmark", "humanml3d", "--help"])
    assert "--evaluator" in capsys.readouterr().out


def _random_evaluator(tmp_path):
    """A JAX evaluator with random weights in the published state-dict layout, and a tiny GloVe."""
    rng = np.random.default_rng(0)
    r = lambda *shape: rng.normal(scale=0.3, size=shape).astype(np.float32)

    def bigru(prefix_sizes, hidden, out):
        sd = {}
        for suffix in ("", "_reverse"):
            sd.update({f"gru.weight_ih_l0{suffix}": r(3 * hidden, hidden),
                       f"gru.weight_hh_l0{suffix}": r(3 * hidden, hidden),
                       f"gru.bias_ih_l0{suffix}": r(3 * hidden), f"gru.bias_hh_l0{suffix}": r(3 * hidden)})
        sd.update({"input_emb.weight": r(hidden, prefix_sizes), "input_emb.bias": r(hidden),
                   "output_net.0.weight": r(hidden, 2 * hidden), "output_net.0.bias": r(hidden),
                   "output_net.1.weight": 1 + r(hidden), "output_net.1.bias": r(hidden),
                   "output_net.3.weight": r(out, hidden), "output_net.3.bias": r(out), "hidden": r(2, 1, hidden)})
        return sd

    movement = {"main.0.weight": r(16, 259, 4), "main.0.bias": r(16), "main.3.weight": r(12, 16, 4),
                "main.3.bias": r(12), "out_net.weight": r(12, 12), "out_net.bias": r(12)}
    text = dict(bigru(30, 10, 8), **{"pos_emb.weight": r(30, 15), "pos_emb.bias": r(30)})
    motion = bigru(12, 20, 8)
    words = ["unk", "sos", "eos", "a", "person", "walks", "forward", "then", "the", "sways", "someone"]
    glove = tmp_path / "glove"
    glove.mkdir()
    np.save(glove / "our_vab_data.npy", r(len(words), 30))
    with open(glove / "our_vab_words.pkl", "wb") as f:
        pickle.dump(words, f)
    with open(glove / "our_vab_idx.pkl", "wb") as f:
        pickle.dump({w: i for i, w in enumerate(words)}, f)
    return movement, text, motion, glove


def _jax_evaluator(tmp_path):
    movement, text, motion, glove = _random_evaluator(tmp_path)
    params = t2m_evaluator.params_from_state_dicts(movement, text, motion)
    vectorizer = t2m_evaluator.WordVectorizer(str(glove))
    return generation_runner.TextMotionEvaluator(*t2m_evaluator.make_embedding_functions(
        params, vectorizer, np.zeros(263, np.float32), np.ones(263, np.float32)))


def test_text_gt_against_gt(humanml_root, tiny_random_export, tmp_path):
    """GT scored as the generation: identical embeddings give FID 0 and the Real row's R-precision."""
    evaluator = _jax_evaluator(tmp_path)
    args = _args(tiny_random_export, humanml_root)
    entries = generation_data.humanml3d_test_set(humanml_root, default_rest_joints(), None, None, 0.4, 10.0)
    assert len(entries) == 33 and len({e["name"] for e in entries}) == 2
    tagged = [e for e in entries if e["caption"] == "then the person sways."][0]
    assert tagged["num_frames"] == 15 and tagged["tokens"] == ["then/X", "the/X", "person/X", "sways./X"]
    offsets, source = generation_runner.skeleton_offsets(args, _body(tiny_random_export))
    assert source == "body model rest skeleton" and offsets.shape == (22, 3)
    gt = generation_runner.score_text_motions(entries, [[e["joints"] for e in entries]], evaluator, offsets, 2)
    assert gt["fid"] == pytest.approx(0, abs=1e-6)
    assert gt["r_precision_top3"] == pytest.approx(gt["gt_r_precision_top3"])
    assert gt["mm_dist"] == pytest.approx(gt["gt_mm_dist"])


def test_humanml3d_test_split_of_the_fixture(tmp_path):
    """The fixture's test.txt is the release's form (every id once, mirrored and HumanAct12 ids
    too): the test set keeps the AMASS clips and skips the rest, as the converter does."""
    fixtures.write_amass(tmp_path / "amass")
    fixtures.write_humanml3d(tmp_path, tmp_path / "amass")
    assert (tmp_path / "test.txt").read_text().split() == ["000000", "000001", "M000000", "000002"]
    entries = generation_data.humanml3d_test_set(tmp_path, default_rest_joints(), None, None, 0.4, 10.0)
    assert sorted((e["name"], e["caption"]) for e in entries) == [
        ("000000", "a person walks forward."), ("000000", "then the person sways."),
        ("000001", "someone strolls ahead slowly")]


@pytest.mark.slow
def test_text_end_to_end(humanml_root, tiny_random_export, tmp_path):
    evaluator = _jax_evaluator(tmp_path)
    args = _args(tiny_random_export, humanml_root, "--min-seconds", "0.4", "--batch-size", "33",
                 "--generation-rounds", "2", "--mm-repeats", "2", "--mm-prompts", "3")
    bench = benchmarks.get_benchmark("humanml3d")
    ours, settings = generation_runner.evaluate_params(args, bench, evaluator=evaluator)
    assert settings["captions"] == 33 and settings["clips"] == 2 and settings["replications"] == 20
    assert settings["generation_rounds"] == 2 and "r_precision_top3_ci95" in ours
    assert set(ours) >= {c.key for c in bench.columns} | {"multimodality"}
    assert all(math.isfinite(v) for v in ours.values())
    assert 0 <= ours["r_precision_top1"] <= ours["r_precision_top3"] <= 1


def _body(export):
    from genmo_jax import load_params
    from genmo_jax.body.select import body_model_from_config

    return body_model_from_config(load_params(export).config.body)


@pytest.mark.slow
def test_inbetween_end_to_end(humanml_root, tiny_random_export):
    args = _args(tiny_random_export, humanml_root, "--min-seconds", "0.4", "--samples", "2", "--max-items", "2")
    bench = benchmarks.get_benchmark("inbetween5")
    ours, settings = generation_runner.evaluate_params(args, bench)
    assert set(ours) == {"pa_mpjpe", "wa_mpjpe"} and 0 < ours["pa_mpjpe"] <= ours["wa_mpjpe"] + 1e-6
    assert settings["clips"] == 2 and settings["samples"] == 2 and settings["text"] is True


def test_keyframe_items_protocol(humanml_root):
    entries = generation_data.humanml3d_test_set(humanml_root, fixtures.synthetic_rest_joints, None, None, 0.4,
                                                 None, one_per_clip=True)
    assert [e["caption"] for e in entries[:2]] == ["a person walks forward.", "someone strolls ahead slowly"]
    items, keyframes = generation_runner.keyframe_items(entries[:2], 5, samples=3, seed=0)
    assert len(items) == 6 and keyframes[0].tolist() == [0, 10, 19, 28, 38]  # round((39 - 1) i / 4)
    np.testing.assert_array_equal(items[0]["keyframes"]["body_pose"], entries[0]["smpl"]["body_pose"][keyframes[0]])
    assert not np.allclose(items[0]["noise"], items[1]["noise"])  # distinct noise per sample
    _, two = generation_runner.keyframe_items(entries[:2], 2, samples=1, seed=0)
    assert two[0][0] == 0 and 39 // 2 <= two[0][1] < 39


def test_errors_name_the_flag(tiny_random_export, humanml_root, tmp_path):
    with pytest.raises(ValueError, match="--evaluator"):
        generation_runner.evaluate_params(_args(tiny_random_export, humanml_root), "humanml3d")
    with pytest.raises(ValueError, match="not a generation benchmark"):
        generation_runner.evaluate_params(_args(tiny_random_export, humanml_root), "emdb2")
    with pytest.raises(FileNotFoundError, match="--data"):
        generation_runner.evaluate_params(_args(tiny_random_export, tmp_path / "missing"), "aistpp")
    with pytest.raises(FileNotFoundError, match="crossmodal_test.txt"):
        generation_runner.evaluate_params(_args(tiny_random_export, humanml_root), "aistpp")
    with pytest.raises(ValueError, match="--samples"):
        generation_runner.evaluate_params(_args(tiny_random_export, humanml_root, "--samples", "0"), "inbetween2")


@pytest.fixture(scope="module")
def motionx_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("motionx")
    fixtures.write_motionx(root, with_keypoints=True)
    (root / "test.txt").write_text("idea400/Dancing_clip_1\nkungfu/k_02\n" * 16)  # 32 pairs for R-precision
    return root


def test_motionx_test_set(motionx_root):
    entries = generation_data.motionx_test_set(motionx_root, fixtures.synthetic_rest_joints, min_seconds=0.5)
    assert len(entries) == 32 and entries[0]["name"] == "idea400/Dancing_clip_1"
    first = entries[0]
    assert first["caption"] == "a person performs dancing moves" and first["num_frames"] == 45
    assert first["tokens"] == ["a/OTHER", "person/OTHER", "performs/OTHER", "dancing/OTHER", "moves/OTHER"]
    assert first["joints"].shape == (45, 24, 3) and first["smpl"]["body_pose"].shape == (45, 63)
    assert len(generation_data.motionx_test_set(motionx_root, fixtures.synthetic_rest_joints, min_seconds=1.2)) == 16
    (motionx_root / "bad.txt").write_text("idea400/nope\n")
    with pytest.raises(ValueError, match="idea400/nope"):
        generation_data.motionx_test_set(motionx_root, fixtures.synthetic_rest_joints, motionx_root / "bad.txt")


@pytest.mark.slow
def test_motionx_end_to_end(motionx_root, tiny_random_export, tmp_path):
    args = _args(tiny_random_export, motionx_root, "--min-seconds", "0.5", "--batch-size", "32")
    ours, settings = generation_runner.evaluate_params(args, "motionx", evaluator=_jax_evaluator(tmp_path))
    assert settings["captions"] == 32 and "unpublished" in settings["notes"][-1]
    assert all(math.isfinite(v) for v in ours.values()) and 0 <= ours["r_precision_top3"] <= 1


@pytest.mark.ref
def test_text_benchmark_with_published_checkpoint_format(humanml_root, tiny_random_export, tmp_path):
    """--evaluator / --glove / --evaluator-mean/-std files: a finest.tar written by torch.save."""
    torch = pytest.importorskip("torch")
    movement, text, motion, glove = _random_evaluator(tmp_path)
    as_torch = lambda sd: {k: torch.from_numpy(v) for k, v in sd.items()}
    checkpoint = tmp_path / "finest.tar"
    torch.save({"movement_encoder": as_torch(movement), "text_encoder": as_torch(text),
                "motion_encoder": as_torch(motion), "epoch": 1}, checkpoint)
    np.save(tmp_path / "mean.npy", np.zeros(263, np.float32))
    np.save(tmp_path / "std.npy", np.ones(263, np.float32))
    args = _args(tiny_random_export, humanml_root, "--min-seconds", "0.4", "--batch-size", "33",
                 "--evaluator", str(checkpoint), "--glove", str(glove), "--evaluator-mean", str(tmp_path / "mean.npy"),
                 "--evaluator-std", str(tmp_path / "std.npy"))
    ours, settings = generation_runner.evaluate_params(args, "humanml3d")
    assert settings["evaluator"] == str(checkpoint) and all(math.isfinite(v) for v in ours.values())
    # The same evaluator built in JAX from the same arrays embeds the GT identically.
    (tmp_path / "again").mkdir()
    jax_evaluator = _jax_evaluator(tmp_path / "again")  # same seed: the same arrays
    loaded = generation_runner.TextMotionEvaluator.from_files(str(checkpoint), str(glove), str(tmp_path / "mean.npy"),
                                                              str(tmp_path / "std.npy"))
    features = [np.random.default_rng(1).normal(size=(30, 263)).astype(np.float32)]
    np.testing.assert_allclose(loaded.embed_motion(features), jax_evaluator.embed_motion(features), atol=1e-5)
    with pytest.raises(ValueError, match="--glove"):
        generation_runner.TextMotionEvaluator.from_files(str(checkpoint), None, None, None)


def test_humanml3d_release_features_are_the_gt(humanml_root, tmp_path):
    import shutil

    root = tmp_path / "h"
    shutil.copytree(humanml_root, root)
    (root / "new_joint_vecs").mkdir()
    vectors = np.random.default_rng(0).normal(size=(26, 263)).astype(np.float32)  # clip 000000: 26 frames at 20 fps
    np.save(root / "new_joint_vecs" / "000000.npy", vectors)
    entries = generation_data.humanml3d_test_set(root, fixtures.synthetic_rest_joints, None, None, 0.4, 10.0,
                                                 max_clips=1)
    assert [e["caption"] for e in entries] == ["a person walks forward.", "then the person sways."]
    np.testing.assert_array_equal(entries[0]["gt_features"], vectors)
    np.testing.assert_array_equal(entries[1]["gt_features"], vectors[10:20])  # 0.5-1.0 s at 20 fps


@pytest.mark.slow
def test_batch_sampler_music_and_text_paths_equal_make_sampler(aist_root, tiny_random_export):
    """The music condition (AIST++ reader's features) and the text condition (one caption over the
    item) give the motions of `make_sampler` on a timeline with that music file / caption."""
    import jax
    import jax.numpy as jnp

    from genmo_jax import load_params
    from genmo_jax import sample as sample_lib
    from genmo_jax import timeline as timeline_lib
    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.motion.normalization import NormStats

    exported = load_params(tiny_random_export)
    body = body_model_from_config(exported.config.body)
    stats = NormStats(mean=jnp.asarray(exported.stats["mean"]), std=jnp.asarray(exported.stats["std"]))
    piece = generation_data.aistpp_test_set(aist_root, fixtures.synthetic_rest_joints)[0]
    n, key = 40, jax.random.key(3)
    noise = np.asarray(jax.random.normal(key, (1, n, 151)))[0]
    caption = "a person walks forward"
    cases = [(dict(music_file=piece["music_path"]), dict(music=piece["music"])),
             (dict(texts=[timeline_lib.TextSpan(caption, 0, n)]),
              dict(text=generation_runner._encode_captions(exported, [caption])[0]))]
    for timeline_fields, item_fields in cases:
        tl = timeline_lib.Timeline(num_frames=n, ddim_steps=2, intrinsics=timeline_lib.default_intrinsics(1000, 1000),
                                   **timeline_fields)
        jitted, state = sample_lib.make_sampler(exported.model, exported.config, tl, stats)
        reference = sample_lib.decode_outputs(jitted(state, key), tl, stats, body)[0]
        sampler = BatchSampler(exported, body, num_frames=48, batch_size=1, ddim_steps=2)
        ours = sampler.sample([dict(num_frames=n, noise=noise, **item_fields)])[0]
        np.testing.assert_allclose(ours["joints_w"], reference["joints_w"], atol=2e-5, err_msg=str(timeline_fields))
