"""The release's estimation-only model (GEM `gem_smpl_regression`): 512 x 12, no text."""

from configs import tiny


def get_config(arg=None):
    c = tiny.get_config(arg)
    c.model.latent_dim = 512
    c.model.num_layers = 12
    c.model.num_heads = 8
    c.model.text_blocks = False
    c.model.conditions = ("obs", "f_cliffcam", "f_imgseq", "f_cam_angvel")
    c.text.encoder = "none"
    c.body.model = "open"
    return c
