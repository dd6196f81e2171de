"""2 local processes x 4 CPU devices over loopback (launch/local_multiprocess.sh) train the toy
task to the same losses and parameters as one process with 8 devices on the same (4, 2) mesh."""

import os
import subprocess
import sys

import numpy as np
import pytest

from genmo_jax.train import metrics as metrics_lib
from test_train_loop import ROOT, TESTS, _env, _params

ARGS = ["--config=" + os.path.join(TESTS, "train_toy.py"), "--config.mesh.data=4",
        "--config.mesh.fsdp=2", "--config.train.num_steps=4"]


@pytest.mark.multiprocess
def test_two_processes_match_one_process(tmp_path):
    single = str(tmp_path / "single")
    r = subprocess.run([sys.executable, "-m", "genmo_jax.train", *ARGS, f"--workdir={single}"],
                       env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]

    multi = str(tmp_path / "multi")
    env = _env(PYTHON=sys.executable, LOG_DIR=str(tmp_path / "logs"))
    env.pop("XLA_FLAGS")   # the launcher sets 4 devices per process
    r = subprocess.run([os.path.join(ROOT, "launch", "local_multiprocess.sh"), "2", "4", "--",
                        *ARGS, f"--workdir={multi}"], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    log1 = (tmp_path / "logs" / "process_1.log")
    assert r.returncode == 0, r.stderr[-3000:] + (log1.read_text()[-2000:] if log1.exists()
                                                  else "")
    # each process saved its own data-iterator state
    data_dir = os.path.join(multi, "checkpoints", "4", "data")
    assert {"process_0-of-2.json", "process_1-of-2.json"} <= set(os.listdir(data_dir))

    loss_1 = [row["loss"] for row in metrics_lib.read_jsonl(os.path.join(single, "metrics.jsonl"))]
    loss_2 = [row["loss"] for row in metrics_lib.read_jsonl(os.path.join(multi, "metrics.jsonl"))]
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-6)
    p1, e1 = _params(single, 4)
    p2, e2 = _params(multi, 4)
    for k in p1:
        np.testing.assert_allclose(p2[k], p1[k], rtol=1e-6, atol=1e-7, err_msg=k)
        np.testing.assert_allclose(e2[k], e1[k], rtol=1e-6, atol=1e-7, err_msg=k)
