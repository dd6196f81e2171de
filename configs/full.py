"""The paper-scale model (GEM `gem_smpl`): 1024 x 16, 8 heads, T5 text, all datasets."""

from configs import tiny


def get_config(arg=None):
    c = tiny.get_config(arg)
    c.model.latent_dim = 1024
    c.model.num_layers = 16
    c.model.num_heads = 8
    c.model.text_dim = 1024          # T5-3B hidden size
    c.text.encoder = "t5"
    c.text.path = "checkpoints/t5-3b"
    return c
