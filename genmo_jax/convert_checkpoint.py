"""Convert the authors' released GEM weights into a genmo-jax export folder.

    python -m genmo_jax.convert_checkpoint --gem PATH --config configs/full.py --out DIR \
        --stats STATS.npz [--velocity-convention release]

PATH: a Lightning `.ckpt` (needs torch: `pip install torch`, in the `ref` extra), or a state dict saved as `.npz`
or `.safetensors` (no torch). The model section of the config must match the checkpoint's sizes
(every tensor is shape-checked). STATS.npz: the release's normalisation statistics, `mean` and
`std` (151,) (the release keeps them as Python constants, so they are not in the checkpoint).
The written config gets `model.velocity_convention = "release"` by default, because the released
weights were trained with the release's motion encoder (SPEC B 1.3; see docs/CONVENTIONS.md).
DIR then loads with `genmo_jax.load_params(DIR)`.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np
from flax import nnx

from genmo_jax import params_io
from genmo_jax.model import gem_compat
from genmo_jax.model.denoiser import Denoiser


def read_state_dict(path) -> dict:
    """{name: np.ndarray} from a .ckpt (Lightning, torch), .npz or .safetensors file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--gem: no such file {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if ext == ".safetensors":
        from safetensors.numpy import load_file
        return dict(load_file(path))
    if ext in (".ckpt", ".pt", ".pth"):
        try:
            import torch
        except ImportError as e:
            raise ValueError(f"--gem {path!r}: reading a torch checkpoint needs torch (install "
                             "the ref extra: pip install torch) or convert it to .npz/.safetensors first") from e
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # Lightning checkpoints pickle their hyper-parameters (OmegaConf)
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
        return {k: v.detach().cpu().float().numpy() for k, v in state.items()
                if hasattr(v, "detach")}
    raise ValueError(f"--gem {path!r}: unknown extension {ext!r} (use .ckpt, .npz, .safetensors)")


def load_config(path):
    """get_config() of a config file such as configs/full.py."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--config: no such file {path!r}")
    spec = importlib.util.spec_from_file_location("_genmo_convert_config", path)
    module = importlib.util.module_from_spec(spec)
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    sys.path.insert(0, repo_root)      # configs import each other as `configs.<name>`
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(repo_root)
    if not hasattr(module, "get_config"):
        raise ValueError(f"--config {path!r} has no get_config()")
    return module.get_config()


def read_stats(path) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--stats: no such file {path!r}")
    with np.load(path) as z:
        missing = [k for k in ("mean", "std") if k not in z.files]
        if missing:
            raise ValueError(f"--stats {path!r} lacks {missing}")
        return {"mean": z["mean"], "std": z["std"]}


def convert(gem_path, config, out_dir, stats, *, velocity_convention="release"):
    """Read, convert, check and write; returns the Denoiser with the loaded weights."""
    state_dict = read_state_dict(gem_path)
    config = config.copy_and_resolve_references() if hasattr(
        config, "copy_and_resolve_references") else config
    config.model.velocity_convention = velocity_convention
    model = Denoiser(config.model, rngs=nnx.Rngs(0))
    gem_compat.load_gem_state_dict(model, state_dict, source=f"--gem {gem_path}")
    params_io.save_params(out_dir, model, config, stats)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gem", required=True, help="GEM .ckpt, .npz or .safetensors")
    parser.add_argument("--config", required=True, help="config file, e.g. configs/full.py")
    parser.add_argument("--out", required=True, help="output export folder")
    parser.add_argument("--stats", required=True, help="npz with mean/std (151,) of the release")
    parser.add_argument("--velocity-convention", default="release", choices=("release", "gvhmr"))
    args = parser.parse_args(argv)
    try:
        convert(args.gem, load_config(args.config), args.out, read_stats(args.stats),
                velocity_convention=args.velocity_convention)
    except (FileNotFoundError, ValueError) as e:
        print(f"convert_checkpoint: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({params_io.PARAMS_FILE}, {params_io.CONFIG_FILE}, "
          f"{params_io.STATS_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
