"""Check our denoiser against golden outputs of the release's network.

    python -m genmo_jax.model.golden_check FILE.npz [--tolerance 1e-4]

FILE.npz in the golden layout (../shared/golden/README.md): `meta_json` (network config,
`max_len`), `param/<torch name>` (the network's state dict) and cases `<case>/{xt, t, f_cond,
length, encoded_text, [multi_text_embed, window_start, window_end], [observed_motion_3d,
motion_mask_3d], out_*}`. Builds our Denoiser at that size, loads the params through
gem_compat, runs every case found and prints per case and output the max absolute error over
valid frames. Exits 1 if any error exceeds the tolerance, 2 if the file cannot be used.
"""

import argparse
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax.model import gem_compat
from genmo_jax.model.denoiser import Denoiser

OUTPUTS = {"out_pred_x_start": "x0", "out_pred_cam": "pred_cam",
           "out_static_conf_logits": "contact_logits", "out_pred_context": "hidden"}


def caption_windows(window_start, window_end, num_frames):
    """Fractional caption windows -> (K, 2) int32 frame ranges, rounded like the release
    (torch.round: half to even, as np.round)."""
    start = np.round(np.asarray(window_start, np.float32) * np.float32(num_frames))
    end = np.round(np.asarray(window_end, np.float32) * np.float32(num_frames))
    return np.stack([start, end], axis=-1).astype(np.int32)


def build_model(golden):
    meta = json.loads(bytes(golden["meta_json"]).decode())
    model_cfg = gem_compat.model_config_from_gem(meta["config"], window=meta.get("max_len", 120))
    model = Denoiser(model_cfg, rngs=nnx.Rngs(0))
    params = {k[len("param/"):]: golden[k] for k in golden.files if k.startswith("param/")}
    gem_compat.load_gem_state_dict(model, params, source="param/* of the golden file")
    return model


def case_inputs(golden, case):
    g = lambda name: golden[f"{case}/{name}"]
    xt = g("xt")
    kwargs = {}
    names = set(golden.files)
    if f"{case}/multi_text_embed" in names:
        text = g("multi_text_embed")                          # (K, T, Dt), release: B = 1
        windows = caption_windows(g("window_start"), g("window_end"), xt.shape[1])
        kwargs["text"] = jnp.broadcast_to(text[None], (xt.shape[0],) + text.shape)
        kwargs["text_windows"] = jnp.broadcast_to(windows[None], (xt.shape[0],) + windows.shape)
    elif f"{case}/encoded_text" in names:
        kwargs["text"] = jnp.asarray(g("encoded_text"))
    if f"{case}/motion_mask_3d" in names:
        kwargs["observed_motion"] = jnp.asarray(g("observed_motion_3d"))
        kwargs["motion_mask"] = jnp.asarray(g("motion_mask_3d"))
    return (jnp.asarray(xt), jnp.asarray(g("t"), jnp.int32), jnp.asarray(g("f_cond")),
            jnp.asarray(g("length"), jnp.int32)), kwargs


def run(path, tolerance=1e-4, out=sys.stdout):
    """Returns {case: {output: max abs error}}; prints one line per case and output."""
    golden = np.load(path)
    model = build_model(golden)
    graphdef, state = nnx.split(model)

    @jax.jit
    def forward(state, args, kwargs):
        return nnx.merge(graphdef, state)(*args, **kwargs, deterministic=True)

    cases = sorted({k.split("/")[0] for k in golden.files if "/" in k and k.split("/")[0] != "param"})
    errors = {}
    for case in cases:
        args, kwargs = case_inputs(golden, case)
        result = forward(state, args, kwargs)
        length = np.asarray(args[3])
        valid = np.arange(args[0].shape[1])[None, :] < length[:, None]
        errors[case] = {}
        for key, ours in OUTPUTS.items():
            name = f"{case}/{key}"
            if name not in golden.files:
                continue
            diff = np.abs(np.asarray(result[ours]) - golden[name])[valid]
            err = float(diff.max())
            errors[case][key] = err
            flag = "ok" if err <= tolerance else "FAIL"
            print(f"{case:12s} {key:24s} max_abs_err {err:.3e}  {flag}", file=out)
    return errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="golden .npz (e.g. ../shared/golden/gem_denoiser_tiny.npz)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    try:
        errors = run(args.file, args.tolerance)
    except (FileNotFoundError, KeyError, ValueError) as e:
        print(f"golden_check: cannot use {args.file}: {e}", file=sys.stderr)
        return 2
    worst = max((e for c in errors.values() for e in c.values()), default=float("inf"))
    print(f"worst max_abs_err {worst:.3e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
