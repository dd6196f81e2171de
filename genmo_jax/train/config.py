"""Checks of the training sections of a config (``train``, ``mesh``, ``checkpoint``, ``loss``).

Unknown keys are already rejected by ``config_flags`` (configs are locked); this module rejects
bad values, naming the key, before anything is built.
"""

from __future__ import annotations

from typing import Any

_SCHEDULES = ("multistep", "cosine", "constant")
_DTYPES = ("float32", "bfloat16")
_MODES = ("estimation", "generation")
_MODE_SELECTIONS = ("both", "paper")
# model.remat_policy: "" stores each layer's input only; the others name jax.checkpoint_policies
REMAT_POLICIES = ("", "nothing_saveable", "dots_with_no_batch_dims_saveable", "dots_saveable",
                  "everything_saveable")
LOSS_KEYS = ("simple", "cr_j3d", "cr_verts", "j2d", "verts2d", "transl_c", "transl_w", "contact",
             "gv_j3d", "twod_kp2d", "twod_pseudo", "twod_accel")


def _need(config, section: str, key: str) -> Any:
    if section not in config or key not in config[section]:
        raise ValueError(f"config is missing {section}.{key}")
    return config[section][key]


def _check(cond: bool, key: str, value: Any, what: str) -> None:
    if not cond:
        raise ValueError(f"{key}={value!r}: {what}")


def validate(config, device_count: int | None = None, process_count: int = 1) -> None:
    """Raises ValueError naming the first bad key of the training sections."""
    t = lambda k: _need(config, "train", k)   # noqa: E731
    n = t("num_steps")
    _check(isinstance(n, int) and n > 0, "train.num_steps", n, "must be a positive integer")
    b = _need(config, "data", "batch_size")
    _check(isinstance(b, int) and b > 0, "data.batch_size", b, "must be a positive integer")
    k = t("grad_accum_steps")
    _check(isinstance(k, int) and k >= 1 and b % k == 0, "train.grad_accum_steps", k,
           f"must be >= 1 and divide data.batch_size={b}")
    _check(b % process_count == 0, "data.batch_size", b,
           f"must be divisible by the {process_count} processes")
    if device_count:
        _check((b // k) % device_count == 0, "data.batch_size", b,
               f"each micro-batch (batch_size / grad_accum_steps = {b // k}) must split evenly "
               f"over the {device_count} devices")
    for key in ("lr", "grad_clip"):
        v = t(key)
        _check(isinstance(v, (int, float)) and v > 0, f"train.{key}", v, "must be > 0")
    for key in ("weight_decay", "eps", "warmup_steps"):
        v = t(key)
        _check(isinstance(v, (int, float)) and v >= 0, f"train.{key}", v, "must be >= 0")
    for key in ("b1", "b2", "ema_decay", "text_drop_prob", "music_drop_prob",
                "audio_drop_prob"):
        v = t(key)
        _check(isinstance(v, (int, float)) and 0 <= v < 1, f"train.{key}", v,
               "must be in [0, 1)")
    s = t("schedule")
    _check(s in _SCHEDULES, "train.schedule", s, f"expected one of {_SCHEDULES}")
    if s == "multistep":
        ms = tuple(t("lr_milestones"))
        _check(all(isinstance(m, int) and m > 0 for m in ms) and list(ms) == sorted(ms),
               "train.lr_milestones", ms, "must be increasing positive step numbers")
    d = t("compute_dtype")
    _check(d in _DTYPES, "train.compute_dtype", d, f"expected one of {_DTYPES}")
    modes = tuple(t("modes"))
    _check(len(modes) > 0 and all(m in _MODES for m in modes) and len(set(modes)) == len(modes),
           "train.modes", modes, f"expected a non-empty subset of {_MODES}")
    sel = t("mode_selection")
    _check(sel in _MODE_SELECTIONS, "train.mode_selection", sel,
           f"expected one of {_MODE_SELECTIONS}")
    for key in ("log_every", "eval_every"):
        v = t(key)
        _check(isinstance(v, int) and v >= 0, f"train.{key}", v, "must be an integer >= 0")
    _check(t("log_every") > 0, "train.log_every", t("log_every"), "must be > 0")

    for key in ("data", "fsdp"):
        v = _need(config, "mesh", key)
        _check(isinstance(v, int) and (v == -1 or v > 0), f"mesh.{key}", v,
               "must be -1 (fill) or a positive integer")
    _check(not (config.mesh.data == -1 and config.mesh.fsdp == -1), "mesh.data",
           config.mesh.data, "mesh.data and mesh.fsdp cannot both be -1")
    model = config.get("model", {})                     # toy tasks have no model section
    v = model.get("scan_unroll", 1)
    _check(isinstance(v, int) and v >= 1, "model.scan_unroll", v, "must be an int >= 1")
    v = model.get("remat_policy", "")
    _check(v in REMAT_POLICIES, "model.remat_policy", v, f"expected one of {REMAT_POLICIES}")
    _check(not v or model.get("remat", False), "model.remat_policy", v,
           "applies only with model.remat=true (set it too, or leave the policy empty)")
    v = _need(config, "mesh", "min_shard_size")
    _check(isinstance(v, int) and v >= 0, "mesh.min_shard_size", v, "must be >= 0")

    v = _need(config, "checkpoint", "save_every")
    _check(isinstance(v, int) and v > 0, "checkpoint.save_every", v, "must be > 0")
    v = _need(config, "checkpoint", "keep")
    _check(isinstance(v, int) and v > 0, "checkpoint.keep", v, "must be > 0")
    v = _need(config, "checkpoint", "keep_every")
    _check(isinstance(v, int) and v >= 0, "checkpoint.keep_every", v, "must be >= 0")

    if t("task") == "genmo":
        for key in LOSS_KEYS:
            v = _need(config, "loss", key)
            _check(isinstance(v, (int, float)) and v >= 0, f"loss.{key}", v, "must be >= 0")
        v = config.loss.get("simple_velocity_weight", 1.0)   # a factor, not a term
        _check(isinstance(v, (int, float)) and v > 0, "loss.simple_velocity_weight", v,
               "must be > 0")
