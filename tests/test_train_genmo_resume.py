"""Exact resume of the real GENMO task (denoiser, dual-mode objective, Grain pipeline of the
procedural world, MiniLM captions): a CLI run killed with SIGKILL at a random step and resumed
ends with the same parameters, EMA and data position, bitwise, as an uninterrupted run."""

import json
import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

from genmo_setup import write_procedural_shards
from test_train_loop import ROOT, _params, _wait_for_step

TOTAL = 12


def _tiny_genmo_args(shards_dir, workdir):
    return [f"--config={os.path.join(ROOT, 'configs', 'tiny.py')}",
            f"--workdir={workdir}",
            f"--config.data.shard_dirs.procedural={shards_dir}",
            "--config.model.latent_dim=32", "--config.model.num_layers=1",
            "--config.model.num_heads=2", "--config.data.window=30",
            "--config.data.batch_size=4", "--config.data.num_workers=0",
            f"--config.train.num_steps={TOTAL}", "--config.train.warmup_steps=2",
            "--config.train.log_every=1", "--config.train.eval_every=0",
            "--config.train.compile_cache=False", "--config.train.progress_bar=False",
            "--config.checkpoint.save_every=2"]


def _env(cache_dir):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    env["JAX_PLATFORMS"] = "cpu"
    env.pop("XLA_FLAGS", None)
    # One persistent compile cache for all three runs: the step compiles once.
    env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
    return env


def _cli(args):
    return [sys.executable, "-m", "genmo_jax.train", *args]


def _data_position(workdir, step):
    folder = os.path.join(workdir, "checkpoints", str(step), "data")
    (name,) = [n for n in os.listdir(folder) if n.endswith(".json")]
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def shards_dir(tmp_path_factory):
    return write_procedural_shards(tmp_path_factory.mktemp("proc"), 6)


@pytest.mark.slow   # three CLI runs of the GENMO step (one compile, shared cache): ~2-3 min
def test_genmo_task_resumes_bitwise_after_sigkill(tmp_path, shards_dir):
    env = _env(str(tmp_path / "xla_cache"))
    ref = str(tmp_path / "ref")
    r = subprocess.run(_cli(_tiny_genmo_args(shards_dir, ref)), env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]

    run = str(tmp_path / "killed")
    kill_at = random.Random().randint(2, 6)
    proc = subprocess.Popen(_cli(_tiny_genmo_args(shards_dir, run)), env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_step(run, kill_at, proc, timeout=600)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    saved = sorted(int(s) for s in os.listdir(os.path.join(run, "checkpoints")) if s.isdigit())
    assert saved and saved[-1] < TOTAL, f"killed too late to test a resume (saved {saved})"
    r = subprocess.run(_cli(_tiny_genmo_args(shards_dir, run)), env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr and f"at step {saved[-1]}" in r.stderr

    p_ref, e_ref = _params(ref, TOTAL)
    p_run, e_run = _params(run, TOTAL)
    assert p_ref.keys() == p_run.keys() and len(p_ref) > 50
    for k in p_ref:
        np.testing.assert_array_equal(p_run[k], p_ref[k], err_msg=f"params {k} (killed at "
                                      f"{kill_at}, resumed from {saved[-1]})")
        np.testing.assert_array_equal(e_run[k], e_ref[k], err_msg=f"ema {k}")
    assert _data_position(run, TOTAL) == _data_position(ref, TOTAL)
    # and the data position does move with the steps (checkpoint.keep = 3 kept 8, 10, 12)
    assert _data_position(ref, TOTAL) != _data_position(ref, TOTAL - 2)
