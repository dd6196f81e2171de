"""The motion representation on top of `genmo_jax.body` (docs/CONVENTIONS.md, SPEC B 1).

gravity_view.py    R_c2gv from a camera rotation and the world gravity
representation.py  the 151-d per-frame vector: encode_motion / decode_motion
rollout.py         world root orientation/translation from decoded values (batch and streaming)
camera.py          pred_cam <-> translation, projection, cam_angvel, bbox info, kp2d normalisation
contacts.py        static-joint labels from joint speed
normalization.py   NormStats: compute, save/load stats.npz, normalize/denormalize (clip_std)
"""
