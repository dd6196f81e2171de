"""The HumanML3D text-motion evaluator of Guo et al. (CVPR 2022) in JAX, loaded from its
published checkpoint (`checkpoints/t2m/text_mot_match/model/finest.tar`, PEERS.md 3.1).

The user supplies the checkpoint (and the GloVe tables `our_vab_{data.npy,words.pkl,idx.pkl}`);
nothing is downloaded. torch is imported only inside `load_t2m_evaluator` (the `.tar` is a torch
pickle); everything else is numpy / jnp, jit-compiled, and equals the PyTorch modules of
EricGuo5513/text-to-motion `networks/modules.py` in eval mode (tested against them):

- MovementConvEncoder: Conv1d(259 -> 512, k 4, s 2, p 1) -> LeakyReLU 0.2 -> Conv1d(512 -> 512,
  k 4, s 2, p 1) -> LeakyReLU 0.2 -> Linear; input = the 263-d HumanML3D features z-normalised
  with the evaluator's mean/std, contacts dropped (`[..., :-4]`), zero-padded.
- MotionEncoderBiGRUCo: Linear -> bidirectional GRU over the first `length // 4` steps (packed
  sequence) starting from a learned hidden state -> concat(forward, backward final states) ->
  Linear -> LayerNorm -> LeakyReLU -> Linear (512-d).
- TextEncoderBiGRUCo: GloVe word vector (300) + Linear(POS one-hot, 15) -> Linear -> the same
  bidirectional GRU / output head. Captions are the dataset's "word/POS" tokens, at most 20,
  wrapped in sos/eos and padded with unk to 22 (`caption_to_arrays`).

Sizes are read from the state dicts, so smaller evaluators of the same design load too. The
reference wrapper sorts a batch by motion length and returns embeddings in that order; ours keep
the input order (pairs are unchanged; only R-precision's grouping of a shuffled set could differ).
"""

import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax import torch_pickle

UNIT_LENGTH = 4  # temporal down-sampling of the movement encoder
MAX_TEXT_TOKENS = 20
MAX_MOTION_LENGTH = 196

POS_ENUMERATOR = {
    "VERB": 0, "NOUN": 1, "DET": 2, "ADP": 3, "NUM": 4, "AUX": 5, "PRON": 6, "ADJ": 7, "ADV": 8,
    "Loc_VIP": 9, "Body_VIP": 10, "Obj_VIP": 11, "Act_VIP": 12, "Desc_VIP": 13, "OTHER": 14,
}
# Words whose POS is overridden by a "very important" class (text-to-motion utils/word_vectorizer.py).
VIP_WORDS = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back",
                "backward", "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee",
                 "shoulder", "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball",
                "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance",
                "jump", "turn", "stumble", "dance", "stop", "sit", "lift", "lower", "raise", "wash", "stand",
                "kneel", "stroll", "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate",
                "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad",
                 "happily", "angrily", "sadly"),
}


# ----- loading -----


def _linear(sd, prefix):
    return {"w": np.asarray(sd[prefix + ".weight"], np.float32).T, "b": np.asarray(sd[prefix + ".bias"], np.float32)}


def _gru(sd, prefix="gru"):
    def direction(suffix):
        return {
            "w_ih": np.asarray(sd[f"{prefix}.weight_ih_l0{suffix}"], np.float32).T,  # (in, 3H), gates r|z|n
            "w_hh": np.asarray(sd[f"{prefix}.weight_hh_l0{suffix}"], np.float32).T,
            "b_ih": np.asarray(sd[f"{prefix}.bias_ih_l0{suffix}"], np.float32),
            "b_hh": np.asarray(sd[f"{prefix}.bias_hh_l0{suffix}"], np.float32),
        }
    return {"forward": direction(""), "backward": direction("_reverse")}


def _head(sd):
    return {
        "dense1": _linear(sd, "output_net.0"),
        "norm": {"scale": np.asarray(sd["output_net.1.weight"], np.float32),
                 "bias": np.asarray(sd["output_net.1.bias"], np.float32)},
        "dense2": _linear(sd, "output_net.3"),
    }


def params_from_state_dicts(movement_encoder, text_encoder, motion_encoder):
    """State dicts (name -> array-like) of the three PyTorch modules -> a params pytree (numpy)."""
    try:
        movement = {
            "conv1": {"w": np.asarray(movement_encoder["main.0.weight"], np.float32).transpose(2, 1, 0),
                      "b": np.asarray(movement_encoder["main.0.bias"], np.float32)},
            "conv2": {"w": np.asarray(movement_encoder["main.3.weight"], np.float32).transpose(2, 1, 0),
                      "b": np.asarray(movement_encoder["main.3.bias"], np.float32)},
            "out": _linear(movement_encoder, "out_net"),
        }
        text = {"pos_emb": _linear(text_encoder, "pos_emb"), "input_emb": _linear(text_encoder, "input_emb"),
                "gru": _gru(text_encoder), "head": _head(text_encoder),
                "hidden": np.asarray(text_encoder["hidden"], np.float32)[:, 0]}
        motion = {"input_emb": _linear(motion_encoder, "input_emb"), "gru": _gru(motion_encoder),
                  "head": _head(motion_encoder), "hidden": np.asarray(motion_encoder["hidden"], np.float32)[:, 0]}
    except KeyError as missing:
        raise ValueError(f"evaluator state dict lacks {missing}: not a text-to-motion text_mot_match checkpoint") from None
    return {"movement": movement, "text": text, "motion": motion}


_ENCODERS = ("movement_encoder", "text_encoder", "motion_encoder")


def load_t2m_evaluator(path):
    """Reads `finest.tar` (keys movement_encoder, text_encoder, motion_encoder) -> params (numpy).

    A `torch.save` zip file is read without torch (`genmo_jax.torch_pickle`); only a legacy
    (pre-1.6, non-zip) file needs torch.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"HumanML3D evaluator checkpoint not found: {path}")
    try:
        checkpoint = torch_pickle.load(path)
    except ValueError as error:
        checkpoint = _load_legacy_with_torch(path, error)
    for key in _ENCODERS:
        if key not in checkpoint:
            raise ValueError(f"{path}: missing '{key}' (keys: {sorted(checkpoint)})")
    return params_from_state_dicts(*(checkpoint[k] for k in _ENCODERS))


def _load_legacy_with_torch(path, error):
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path}: not a loadable torch checkpoint of tensors ({error})") from None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # no arbitrary unpickling
    except Exception as torch_error:  # UnpicklingError or RuntimeError on foreign content
        raise ValueError(f"{path}: not a loadable torch checkpoint of tensors ({torch_error})") from None
    to_numpy = lambda sd: {k: v.detach().cpu().numpy() for k, v in sd.items()}
    return {k: to_numpy(v) if k in _ENCODERS else v for k, v in checkpoint.items()}


# ----- the networks -----


def _dense(p, x):
    return x @ p["w"] + p["b"]


def _leaky_relu(x):
    return jnp.where(x >= 0, x, 0.2 * x)


def _conv1d(p, x):
    """PyTorch Conv1d(kernel 4, stride 2, padding 1) on (B, T, C) channels-last."""
    y = jax.lax.conv_general_dilated(x, p["w"], window_strides=(2,), padding=[(1, 1)],
                                     dimension_numbers=("NWC", "WIO", "NWC"))
    return y + p["b"]


def _gru_final_state(p, inputs, lengths, initial, reverse):
    """Final hidden state of a PyTorch GRU direction over the first `lengths` steps (packed)."""
    gates_in = inputs @ p["w_ih"] + p["b_ih"]  # (B, T, 3H), input projections for all steps at once
    steps = jnp.arange(inputs.shape[1])

    def step(h, xs):
        g_in, t = xs
        g_h = h @ p["w_hh"] + p["b_hh"]
        i_r, i_z, i_n = jnp.split(g_in, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(g_h, 3, axis=-1)
        r = jax.nn.sigmoid(i_r + h_r)
        z = jax.nn.sigmoid(i_z + h_z)
        n = jnp.tanh(i_n + r * h_n)
        h_new = (1 - z) * n + z * h
        return jnp.where((t < lengths)[:, None], h_new, h), None

    h0 = jnp.broadcast_to(initial, (inputs.shape[0], initial.shape[-1]))
    final, _ = jax.lax.scan(step, h0, (jnp.swapaxes(gates_in, 0, 1), steps), reverse=reverse)
    return final


def _bigru_head(params, inputs, lengths):
    forward = _gru_final_state(params["gru"]["forward"], inputs, lengths, params["hidden"][0], False)
    backward = _gru_final_state(params["gru"]["backward"], inputs, lengths, params["hidden"][1], True)
    h = _dense(params["head"]["dense1"], jnp.concatenate([forward, backward], -1))
    mean = h.mean(-1, keepdims=True)
    var = ((h - mean) ** 2).mean(-1, keepdims=True)
    norm = params["head"]["norm"]
    h = (h - mean) / jnp.sqrt(var + 1e-5) * norm["scale"] + norm["bias"]
    return _dense(params["head"]["dense2"], _leaky_relu(h))


@jax.jit
def embed_motions(params, motions, lengths):
    """Motion embeddings (B, 512) from normalised HumanML3D features (B, T, 263) and lengths (B,).

    T should leave zero padding after the longest motion (the reference pads to 196 frames);
    `pad_motions` builds such a batch.
    """
    movements = params["movement"]
    x = _leaky_relu(_conv1d(movements["conv1"], motions[..., :-4]))
    x = _leaky_relu(_conv1d(movements["conv2"], x))
    x = _dense(movements["out"], x)
    inputs = _dense(params["motion"]["input_emb"], x)
    return _bigru_head(params["motion"], inputs, jnp.asarray(lengths) // UNIT_LENGTH)


@jax.jit
def embed_texts(params, word_embeddings, pos_onehot, lengths):
    """Text embeddings (B, 512) from GloVe vectors (B, S, 300), POS one-hots (B, S, 15), lengths (B,)."""
    text = params["text"]
    inputs = _dense(text["input_emb"], word_embeddings + _dense(text["pos_emb"], pos_onehot))
    return _bigru_head(text, inputs, jnp.asarray(lengths))


# ----- inputs -----


def pad_motions(motions, mean=None, std=None):
    """List of (T_i, 263) HumanML3D features -> (normalised, zero-padded (B, T, 263), lengths (B,)).

    mean/std: the evaluator's statistics (`t2m_mean.npy`, `t2m_std.npy`); None = already normalised.
    """
    lengths = np.array([len(m) for m in motions])
    padded_length = max(MAX_MOTION_LENGTH, -(-(lengths.max() + 2 * UNIT_LENGTH) // UNIT_LENGTH) * UNIT_LENGTH)
    batch = np.zeros((len(motions), padded_length, motions[0].shape[-1]), np.float32)
    for i, motion in enumerate(motions):
        motion = np.asarray(motion, np.float32)
        if mean is not None:
            motion = (motion - mean) / std
        batch[i, :len(motion)] = motion
    return batch, lengths


class WordVectorizer:
    """GloVe lookup of the evaluator (`<prefix>_data.npy`, `_words.pkl`, `_idx.pkl` in `folder`)."""

    def __init__(self, folder, prefix="our_vab"):
        paths = [os.path.join(folder, f"{prefix}_{s}") for s in ("data.npy", "words.pkl", "idx.pkl")]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"GloVe table not found: {path}")
        vectors = np.load(paths[0])
        with open(paths[1], "rb") as f:
            words = pickle.load(f)
        with open(paths[2], "rb") as f:
            word_to_index = pickle.load(f)
        self.word_to_vector = {w: vectors[word_to_index[w]] for w in words}

    @staticmethod
    def pos_onehot(pos):
        onehot = np.zeros(len(POS_ENUMERATOR), np.float32)
        onehot[POS_ENUMERATOR.get(pos, POS_ENUMERATOR["OTHER"])] = 1
        return onehot

    def __getitem__(self, token):
        """'word/POS' -> (word vector (300,), POS one-hot (15,))."""
        word, pos = token.split("/")
        if word not in self.word_to_vector:
            return self.word_to_vector["unk"], self.pos_onehot("OTHER")
        vip = next((key for key, words in VIP_WORDS.items() if word in words), None)
        return self.word_to_vector[word], self.pos_onehot(vip or pos)


def caption_to_arrays(vectorizer, tokens, max_tokens=MAX_TEXT_TOKENS):
    """HumanML3D caption tokens ['a/DET', 'man/NOUN', ...] -> (words (S, 300), pos (S, 15), length)."""
    if len(tokens) < max_tokens:
        tokens = ["sos/OTHER"] + list(tokens) + ["eos/OTHER"]
        length = len(tokens)
        tokens = tokens + ["unk/OTHER"] * (max_tokens + 2 - length)
    else:
        tokens = ["sos/OTHER"] + list(tokens[:max_tokens]) + ["eos/OTHER"]
        length = len(tokens)
    words, pos = zip(*(vectorizer[t] for t in tokens))
    return np.stack(words).astype(np.float32), np.stack(pos), length


def make_embedding_functions(params, vectorizer=None, mean=None, std=None):
    """(embed_text, embed_motion) for `text_metrics.evaluate_text_to_motion`: embed_text takes a
    list of token lists, embed_motion a list of (T_i, 263) feature arrays."""

    def embed_text(captions):
        if vectorizer is None:
            raise ValueError("embed_text needs a WordVectorizer (the GloVe tables)")
        words, pos, lengths = zip(*(caption_to_arrays(vectorizer, c) for c in captions))
        return np.asarray(embed_texts(params, np.stack(words), np.stack(pos), np.array(lengths)))

    def embed_motion(motions):
        batch, lengths = pad_motions(motions, mean, std)
        return np.asarray(embed_motions(params, batch, lengths))

    return embed_text, embed_motion


def to_device(params):
    """The numpy params tree as jnp arrays (optional: jit converts on first use)."""
    return jax.tree_util.tree_map(jnp.asarray, params)

