"""The procedural benchmark end to end in its quick form on a tiny random export, and the CLI's
errors. The figures of a random model are noise; what is checked is that every table is written
with finite values, and the reference rows that have a known answer."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

from genmo_jax.evaluate.procedural import __main__ as cli
from genmo_jax.evaluate.procedural import benchmark


@pytest.fixture(scope="module")
def tables(tiny_random_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("procedural")
    # one length for every task: the samplers and decoders of different tasks share compiles
    settings = dataclasses.replace(benchmark.settings_for(quick=True), estimation_clips=2)
    # the committed retrieval evaluator (quick_retrieval would train one for a few steps)
    result = benchmark.run_benchmark(tiny_random_export, str(out), settings)
    return result, str(out)


def test_every_table_is_written_with_finite_values(tables):
    result, out = tables
    expected = {"procedural_estimation", "procedural_text", "procedural_music", "procedural_inbetween2",
                "procedural_inbetween5"}
    assert set(result) == expected
    for name in expected:
        record = json.load(open(os.path.join(out, f"{name}.json")))
        columns = benchmark.PROCEDURAL[name].columns
        assert all(math.isfinite(record["ours"][c.key]) for c in columns), (name, record["ours"])
        assert "genmo-jax (ours)" in open(os.path.join(out, f"{name}.md")).read()
    combined = open(os.path.join(out, "procedural.md")).read()
    assert combined.count("### Procedural world") == 5
    assert json.load(open(os.path.join(out, "procedural.json")))["settings"]["heldout_seed"] > 0


def test_reference_rows_with_known_answers(tables):
    result, _ = tables
    est = result["procedural_estimation"]
    # the mean motion ignores its input: a large error, but no jitter worse than the real motion's
    assert est["mean motion"]["mpjpe"] > 50.0
    assert est["procedural GT"]["fs"] < 5.0            # planted feet of the procedural world barely move
    text = result["procedural_text"]
    # the committed evaluator retrieves real motions from their captions, random ones at chance
    assert text["procedural GT"]["r_precision_top3"] > 0.6
    assert text["random real motions"]["r_precision_top1"] < 0.25
    music = result["procedural_music"]
    assert music["procedural GT"]["bas"] > music["real dances, other music"]["bas"]
    for k in (2, 5):
        rows = result[f"procedural_inbetween{k}"]
        # keyframe values written into x are decoded back exactly at the keys (pose part)
        assert rows["keys pasted into the mean motion"]["pa_mpjpe"] < 1.0
        assert rows["mean motion"]["pa_mpjpe"] > 10.0


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert cli.main(["--params", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--quick",
                     "--tasks", "estimation"]) == 2
    assert "params.safetensors" in capsys.readouterr().err
    assert cli.main(["--params", str(tmp_path), "--out", str(tmp_path / "o"), "--tasks", "nope"]) == 2
    assert "unknown task" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--params", str(tmp_path), "--out", str(tmp_path / "o"), "--clips", "0"])


def test_settings_scale_with_clips():
    s = benchmark.settings_for(64)
    assert (s.text_clips, s.estimation_clips, s.dance_clips, s.inbetween_clips) == (256, 64, 16, 32)
    assert benchmark.settings_for(8).text_clips % 32 == 0
    with pytest.raises(ValueError, match="--clips"):
        benchmark.settings_for(4)
    assert np.all([benchmark.settings_for(quick=True).ddim_steps == 2])


def test_the_encoded_ground_truth_decodes_to_near_zero_errors(tiny_random_export):
    """The estimation path without the network: GT params -> 151-d x -> `ModelRunner.decode`
    (rollout with the GT camera, FK) -> metrics. Only the rollout's smoothing may cost millimetres."""
    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.data.procedural.__main__ import load_skeleton
    from genmo_jax.evaluate.procedural import heldout
    from genmo_jax.motion.normalization import normalize
    from genmo_jax.motion.representation import encode_motion
    from genmo_jax.params_io import load_params

    runner = benchmark.ModelRunner(load_params(tiny_random_export), body_model_from_config({"model": "open"}))
    data = heldout.estimation_samples(load_skeleton("open"), 2, length=64)
    length = data["length"].astype(np.int32)
    x = encode_motion({"body_pose": data["body_pose"], "betas": data["betas"], "global_orient": data["global_orient_c"]},
                      {"global_orient": data["global_orient_w"], "transl": data["transl_w"]}, data["R_c2gv"],
                      velocity_convention=runner.velocity_convention, length=length)
    dec = runner.decode(np.asarray(normalize(x, runner.stats, runner.clip_std)), length, data["cam_angvel"],
                        lift=False, camera=True)
    gt_c, gt_vc = map(np.asarray, benchmark._gt_points(runner.body, data["betas"], data["global_orient_c"],
                                                       data["body_pose"], np.zeros_like(data["transl_c"])))
    gt_w, _ = map(np.asarray, benchmark._gt_points(runner.body, data["betas"], data["global_orient_w"],
                                                   data["body_pose"], data["transl_w"]))
    scores = benchmark._estimation_scores(dec["joints_c"], dec["vertices_c"], dec["joints_w"], gt_c, gt_vc, gt_w,
                                          data["valid"])
    assert scores["mpjpe"] < 0.5 and scores["pve"] < 0.5 and scores["pa_mpjpe"] < 0.5
    # measured: WA-MPJPE100 0.07 mm, W-MPJPE100 0.2 mm, RTE 0.002 % (64 frames)
    assert scores["waa_mpjpe"] < 2.0 and scores["wa2_mpjpe"] < 5.0 and scores["rte"] < 0.5
