"""The training CLI end to end on the toy task (8 simulated devices, mesh 4 x 2):
exact resume after SIGKILL, SIGTERM = save and exit 42, NaN stops naming the step and keeps the
last good checkpoint, unknown keys / bad values rejected with the key named, JSONL metrics."""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from genmo_jax.train import checkpoint as ckpt
from genmo_jax.train import metrics as metrics_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
BASE = ["--config=" + os.path.join(TESTS, "train_toy.py"), "--config.mesh.data=4",
        "--config.mesh.fsdp=2"]


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, TESTS, env.get("PYTHONPATH", "")])
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra)
    return env


def _cli(args, **popen):
    return [sys.executable, "-m", "genmo_jax.train", *BASE, *args]


def _run(args, timeout=240, **env):
    return subprocess.run(_cli(args), env=_env(**env), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _params(workdir, step):
    got, tree = ckpt.read_state(os.path.join(workdir, "checkpoints"), step)
    assert got == step
    return {k: np.asarray(v) for k, v in _flat(tree["params"])}, \
        {k: np.asarray(v) for k, v in _flat(tree["ema"])}


def _flat(tree, prefix=""):
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _flat(v, prefix + k + ".")
        else:
            yield prefix + k, v


def _wait_for_step(workdir, step, proc, timeout=180):
    path = os.path.join(workdir, "metrics.jsonl")
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.stderr.read()[-2000:]}")
        if os.path.exists(path):
            rows = metrics_lib.read_jsonl(path)
            if rows and rows[-1]["step"] >= step:
                return rows[-1]["step"]
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the run")


@pytest.mark.slow   # five CLI runs: ~2 min on 2 shared cores
def test_exact_resume_after_sigkill_and_sigterm_save(tmp_path):
    total = 10
    ref = str(tmp_path / "ref")
    r = _run([f"--workdir={ref}", f"--config.train.num_steps={total}"])
    assert r.returncode == 0, r.stderr[-3000:]

    # Run 2: killed with SIGKILL at a random step, then resumed to the same total.
    run = str(tmp_path / "killed")
    kill_at = random.Random().randint(3, 7)
    proc = subprocess.Popen(_cli([f"--workdir={run}", f"--config.train.num_steps={total}"]),
                            env=_env(TOY_STEP_SLEEP="0.3"), cwd=ROOT, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    _wait_for_step(run, kill_at, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    steps = sorted(int(s) for s in os.listdir(os.path.join(run, "checkpoints")) if s.isdigit())
    assert steps and steps[-1] < total
    r = _run([f"--workdir={run}", f"--config.train.num_steps={total}"])
    assert r.returncode == 0, r.stderr[-3000:]

    p_ref, e_ref = _params(ref, total)
    p_run, e_run = _params(run, total)
    for k in p_ref:
        np.testing.assert_array_equal(p_run[k], p_ref[k], err_msg=f"params {k} (killed at "
                                      f"{kill_at})")
        np.testing.assert_array_equal(e_run[k], e_ref[k], err_msg=f"ema {k}")

    # Run 3: SIGTERM -> checkpoint at the current step and exit code 42; a rerun finishes.
    run3 = str(tmp_path / "term")
    proc = subprocess.Popen(_cli([f"--workdir={run3}", f"--config.train.num_steps={total}",
                                  "--config.checkpoint.save_every=1000"]),
                            env=_env(TOY_STEP_SLEEP="0.3"), cwd=ROOT, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    _wait_for_step(run3, 2, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 42, err[-3000:]
    steps = sorted(int(s) for s in os.listdir(os.path.join(run3, "checkpoints")) if s.isdigit())
    last_logged = metrics_lib.read_jsonl(os.path.join(run3, "metrics.jsonl"))[-1]["step"]
    assert steps[-1] == last_logged and 2 <= steps[-1] < total
    r = _run([f"--workdir={run3}", f"--config.train.num_steps={total}",
              "--config.checkpoint.save_every=1000"])
    assert r.returncode == 0, r.stderr[-3000:]
    p3, _ = _params(run3, total)
    for k in p_ref:
        np.testing.assert_array_equal(p3[k], p_ref[k], err_msg=f"params {k} after SIGTERM")

    rows = metrics_lib.read_jsonl(os.path.join(ref, "metrics.jsonl"))
    assert [row["step"] for row in rows] == list(range(1, total + 1))
    assert {"loss", "grad_norm", "lr", "steps_per_s", "samples_per_s"} <= set(rows[-1])


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    run = str(tmp_path / "nan")
    r = _run([f"--workdir={run}", "--config.train.task=train_toy:NanFromStep3Task",
              "--config.checkpoint.save_every=1"])
    assert r.returncode == 1
    assert "step 3" in r.stderr and "Last good checkpoint: step 2" in r.stderr
    steps = sorted(int(s) for s in os.listdir(os.path.join(run, "checkpoints")) if s.isdigit())
    assert steps[-1] == 2


def test_unknown_config_key_is_rejected_by_the_cli(tmp_path):
    r = _run([f"--workdir={tmp_path}", "--config.train.bogus_key=1"], timeout=120)
    assert r.returncode != 0
    assert "bogus_key" in r.stderr


@pytest.mark.parametrize("key,value", [
    ("train.schedule", "sometimes"), ("data.batch_size", 12), ("train.num_steps", 0),
    ("train.compute_dtype", "float16"), ("train.mode_selection", "all"),
    ("train.modes", ("estimation", "dreaming")), ("train.ema_decay", 1.5),
    ("mesh.fsdp", 0), ("checkpoint.keep", 0), ("loss.j2d", -1.0),
    ("loss.simple_velocity_weight", 0.0), ("model.scan_unroll", 0),
    ("model.remat_policy", "dots"),
    ("model.remat_policy", "dots_saveable"),        # a valid policy, but tiny.py has no remat
])
def test_bad_config_values_are_rejected_naming_the_key(key, value):
    from configs import tiny
    from genmo_jax.train import config as config_lib
    c = tiny.get_config()
    config_lib.validate(c, device_count=8)          # the shipped config is valid
    section, name = key.split(".")
    with c.unlocked():
        c[section][name] = value
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        config_lib.validate(c, device_count=8)
