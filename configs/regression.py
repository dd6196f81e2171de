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
    # The regression-only experiment: estimation mode only, halvings as in the release's
    # epoch_half_200_350 placed at 40% and 70% of the run.
    c.train.modes = ("estimation",)
    # the release's supervision and cameras (tiny.py departs from both to learn in minutes)
    c.loss.gv_j3d = 0.0
    c.loss.simple_velocity_weight = 1.0
    c.model.clip_std = True
    c.data.simulation.generation_camera = "v11"
    c.train.num_steps = 500_000
    c.data.batch_size = 128
    c.train.lr = 2e-4
    c.train.schedule = "multistep"
    c.train.lr_milestones = (200_000, 350_000)
    c.train.warmup_steps = 0
    c.train.log_every = 100
    c.train.eval_every = 3000
    c.checkpoint.save_every = 10_000
    return c
