"""``python -m genmo_jax.train --config=configs/tiny.py [--config.a.b=v ...] [--workdir DIR]``.

``--config.train.num_steps=N`` is the total number of optimizer steps: rerunning the same command
on the same workdir resumes from the latest checkpoint and stops at N. Multi-host runs start the
same command on every host (launch/); ``jax.distributed`` is initialised from the environment.
Exit codes: 0 done, 42 preempted (checkpoint saved; requeue), 1 diverged or bad input.
"""

from __future__ import annotations

import sys

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file, e.g. configs/tiny.py; override fields with --config.a.b=v.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/default",
                               "Checkpoints, metrics.jsonl and config.json go here.")


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    # Before anything touches a device: join the other processes, if launched as several.
    from genmo_jax import parallel
    parallel.maybe_initialize_distributed()
    import jax

    from genmo_jax.train import checkpoint as ckpt
    from genmo_jax.train import loop

    if _CONFIG.value is None:
        raise app.UsageError("--config is required, e.g. --config=configs/tiny.py")
    try:
        result = loop.run(_CONFIG.value, _WORKDIR.value)
    except (ValueError, FileNotFoundError, loop.TrainingDiverged, ckpt.CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    if jax.process_index() == 0:
        print(loop.summary(result))
    if result.preempted:
        sys.exit(ckpt.PREEMPTED_EXIT_CODE)


if __name__ == "__main__":
    app.run(main)
