"""`python -m genmo_jax.evaluate` on prediction files written by the test: tables and JSON."""

import json

import numpy as np
import pytest

from genmo_jax.evaluate import benchmarks, report
from genmo_jax.evaluate.__main__ import main


def _motion(rng, frames=30, joints=24):
    return (rng.normal(size=(1, joints, 3)) * 0.3 + np.cumsum(rng.normal(size=(frames, 1, 3)) * 0.02, 0)
            + rng.normal(size=(frames, joints, 3)) * 0.01).astype(np.float32)


def test_world_benchmark_from_npz_files(tmp_path):
    rng = np.random.default_rng(0)
    preds = tmp_path / "preds"
    preds.mkdir()
    for i in range(2):
        gt = _motion(rng)
        pred = gt + np.float32(0.01) * rng.normal(size=gt.shape).astype(np.float32)
        np.savez(preds / f"seq{i}.npz", pred_joints_world=pred, gt_joints_world=gt, mask=np.arange(30) < 28)
    out = tmp_path / "out"
    assert main(["--benchmark", "emdb2", "--predictions", str(preds), "--out", str(out)]) == 0
    record = json.loads((out / "emdb2.json").read_text())
    assert set(record["ours"]) == {"wa2_mpjpe", "waa_mpjpe", "rte", "jitter"}
    assert 0 < record["ours"]["waa_mpjpe"] < record["ours"]["wa2_mpjpe"] + 1e-6 < 100
    assert record["references"]["GENMO (DROID)"]["wa2_mpjpe"] == 202.1
    table = (out / "emdb2.md").read_text()
    assert "| GENMO (GT extr.) | 69.50 | 185.9 | 0.9 | 17.70 | 8.60 |" in table
    assert "**genmo-jax (ours)**" in table and table.count("\n| ") == 7  # header + 5 references + ours


def test_camera_benchmark_matches_direct_metrics(tmp_path):
    rng = np.random.default_rng(1)
    gt = _motion(rng, joints=14)
    pred = gt + np.float32(0.02)
    bench = benchmarks.get_benchmark("3dpw")
    ours = report.score_estimation([{"pred_joints": pred, "gt_joints": gt}], bench)
    assert ours["mpjpe"] == pytest.approx(0.0, abs=1e-3)  # a translation: removed by the pelvis
    assert set(ours) == {"pa_mpjpe", "mpjpe", "accel"}
    with pytest.raises(ValueError, match="missing arrays"):
        report.score_estimation([{"pred_joints": pred}], bench)


def test_music_text_and_inbetween_benchmarks(tmp_path):
    rng = np.random.default_rng(2)
    dances, gt_dir = tmp_path / "dances", tmp_path / "gt"
    dances.mkdir()
    gt_dir.mkdir()
    for i in range(3):
        np.savez(dances / f"d{i}.npz", joints=_motion(rng, frames=40), music_beats=np.array([10, 20, 30]))
        np.savez(gt_dir / f"g{i}.npz", joints=_motion(rng, frames=40))
    assert main(["--benchmark", "aistpp", "--predictions", str(dances), "--gt", str(gt_dir),
                 "--out", str(tmp_path / "o")]) == 0
    music = json.loads((tmp_path / "o" / "aistpp.json").read_text())["ours"]
    assert set(music) >= {"fid_k", "fid_g", "div_k", "div_g", "pfc", "bas"}
    assert "[unverified]" in (tmp_path / "o" / "aistpp.md").read_text()

    emb_dir = tmp_path / "emb"
    emb_dir.mkdir()
    text = rng.normal(size=(64, 6))
    np.savez(emb_dir / "embeddings.npz", text=text, gen_motion=text, gt_motion=text)
    assert main(["--benchmark", "humanml3d", "--predictions", str(emb_dir), "--out", str(tmp_path / "o"),
                 "--replications", "2"]) == 0
    t = json.loads((tmp_path / "o" / "humanml3d.json").read_text())["ours"]
    assert t["r_precision_top1"] == pytest.approx(1.0) and t["fid"] == pytest.approx(0.0, abs=1e-6)

    inb = tmp_path / "inb"
    inb.mkdir()
    gt = _motion(rng, frames=20)
    samples = np.stack([gt + 0.1, gt + rng.normal(size=gt.shape) * 0.05])  # first sample: exact up to a shift
    np.savez(inb / "m0.npz", pred_joints=samples, gt_joints=gt, keyframes=np.array([0, 5, 10, 14, 19]))
    assert main(["--benchmark", "inbetween5", "--predictions", str(inb), "--out", str(tmp_path / "o")]) == 0
    keys = json.loads((tmp_path / "o" / "inbetween5.json").read_text())["ours"]
    assert keys["wa_mpjpe"] == pytest.approx(0.0, abs=1e-3) and keys["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["--benchmark", "emdb2", "--predictions", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown benchmark"):
        benchmarks.get_benchmark("nope")
    assert main(["--list"]) == 0
    assert "inbetween2" in capsys.readouterr().out


def test_joints_regressed_from_vertices(tmp_path):
    rng = np.random.default_rng(3)
    regressor = rng.random((24, 40)).astype(np.float32)
    regressor /= regressor.sum(1, keepdims=True)
    gt_vertices = _motion(rng, joints=40)
    pred_vertices = gt_vertices + np.float32(0.05)  # a pure translation of the mesh
    np.save(tmp_path / "J.npy", regressor)
    preds = tmp_path / "p"
    preds.mkdir()
    np.savez(preds / "s.npz", pred_vertices=pred_vertices, gt_vertices=gt_vertices)
    assert main(["--benchmark", "emdb1", "--predictions", str(preds), "--out", str(tmp_path / "o"),
                 "--joint-regressor", str(tmp_path / "J.npy")]) == 0
    ours = json.loads((tmp_path / "o" / "emdb1.json").read_text())["ours"]
    assert ours["mpjpe"] == pytest.approx(0.0, abs=1e-3) and ours["pve"] == pytest.approx(0.0, abs=1e-3)


def test_torch_regressor_file_is_read_without_torch(tmp_path):
    from genmo_jax import torch_pickle

    rng = np.random.default_rng(4)
    regressor = rng.random((24, 30)).astype(np.float32)
    regressor /= regressor.sum(1, keepdims=True)
    torch_pickle.save(regressor, tmp_path / "J.pt")  # the release ships its regressors as torch tensors
    gt_vertices = _motion(rng, joints=30)
    preds = tmp_path / "p"
    preds.mkdir()
    np.savez(preds / "s.npz", pred_vertices=gt_vertices + np.float32(0.02), gt_vertices=gt_vertices)
    assert main(["--benchmark", "emdb1", "--predictions", str(preds), "--out", str(tmp_path / "o"),
                 "--joint-regressor", str(tmp_path / "J.pt")]) == 0
    ours = json.loads((tmp_path / "o" / "emdb1.json").read_text())["ours"]
    assert ours["mpjpe"] == pytest.approx(0.0, abs=1e-3)
    assert json.loads((tmp_path / "o" / "emdb1.json").read_text())["settings"]["joint_regressor"].endswith("J.pt")
