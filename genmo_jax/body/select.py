"""Which body model a config names: the built-in open body or a user's SMPL-family file."""

from genmo_jax.body.open_body import open_body_path
from genmo_jax.body.smpl import load_body_model


def body_model_path(body_config) -> str:
    """`body.model` = "open" (packaged lite open body), "open_full", or a path to an SMPL/SMPL-H/
    SMPL-X file or folder (licensed files the user supplies)."""
    name = str(body_config.get("model", "open"))
    if name == "open":
        return str(open_body_path("lite"))
    if name == "open_full":
        return str(open_body_path("full"))
    return name


def body_model_from_config(body_config, num_betas: int = 10):
    """Loads the body model a config section names (`body.model`, `body.gender`)."""
    return load_body_model(body_model_path(body_config), num_betas=num_betas,
                           gender=str(body_config.get("gender", "neutral")))
