"""A torch transcription of the release's denoiser network (SPEC B 2.3-2.6), for side-by-side
timing on a busy machine (ratios measured in the same process are robust to load).

Written from the SPEC: eager fp32, separate q/k/v RoPE self-attention with a dense L x L
window mask (as the release builds it), MHA text blocks, timm-style MLPs, the three heads.
`load_golden_params` fills it from a golden file's `param/*` so its outputs can be checked.
"""

import math

import numpy as np
import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self, d_in, hidden, d_out, approximate="none"):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_out)
        self.approximate = approximate

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x), approximate=self.approximate))


def rope_freqs(num_frames, head_dim):
    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    return torch.repeat_interleave(torch.arange(num_frames).float()[:, None] * inv, 2, dim=-1)


def rotate(x, freqs):
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    half = torch.stack((-pairs[..., 1], pairs[..., 0]), -1).reshape(x.shape)
    return x * freqs.cos() + half * freqs.sin()


class RoPEAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, blocked):
        b, n, d = x.shape
        split = lambda t: t.reshape(b, n, self.heads, -1).transpose(1, 2)
        freqs = rope_freqs(n, d // self.heads)
        q, k = rotate(split(self.query(x)), freqs), rotate(split(self.key(x)), freqs)
        s = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        s = s.masked_fill(blocked[:, None], float("-inf"))
        out = torch.softmax(s, -1) @ split(self.value(x))
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, d, heads, ratio):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.attn = RoPEAttention(d, heads)
        self.mlp = Mlp(d, int(d * ratio), d, "tanh")
        self.gate_msa, self.gate_mlp = nn.Parameter(torch.zeros(1, 1, d)), nn.Parameter(
            torch.zeros(1, 1, d))

    def forward(self, x, blocked):
        x = x + self.gate_msa * self.attn(self.norm1(x), blocked)
        return x + self.gate_mlp * self.mlp(self.norm2(x))


class TextBlock(nn.Module):
    def __init__(self, d, heads, ratio):
        super().__init__()
        self.norm2, self.norm3 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.cross_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = Mlp(d, int(d * ratio), d, "tanh")
        self.gate_cross_attn, self.gate_mlp = nn.Parameter(torch.zeros(1, 1, d)), nn.Parameter(
            torch.zeros(1, 1, d))

    def forward(self, x, text):
        y = self.norm2(x)
        x = x + self.gate_cross_attn * self.cross_attn(y, text, text)[0]
        return x + self.gate_mlp * self.mlp(self.norm3(x))


def sinusoid(num, d):
    pos = torch.arange(num).float()[:, None]
    div = torch.exp(torch.arange(0, d, 2).float() * (-np.log(10000.0) / d))
    pe = torch.zeros(num, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe


class Network(nn.Module):
    def __init__(self, d, layers, heads, ratio=4, text_dim=None, window=120):
        super().__init__()
        self.window = window
        self.register_buffer("pe", sinusoid(5000, d), persistent=False)
        self.time_embed = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.add_cond_linear = nn.Linear(151 + d, d)
        self.blocks = nn.ModuleList(Block(d, heads, ratio) for _ in range(layers))
        self.text = text_dim is not None
        if self.text:
            self.embed_text = nn.Linear(text_dim, d)
            self.text_blocks = nn.ModuleList(TextBlock(d, heads, ratio) for _ in range(layers))
        self.final_layer, self.pred_cam_head, self.static_conf_head = (
            Mlp(d, d, 151), Mlp(d, d, 3), Mlp(d, d, 6))
        self.register_buffer("cam_mean", torch.tensor([1.0606, -0.0027, 0.2702]), False)
        self.register_buffer("cam_std", torch.tensor([0.1784, 0.0956, 0.0764]), False)

    def forward(self, xt, t, f_cond, length, text=None):
        b, n, _ = xt.shape
        x = self.add_cond_linear(torch.cat([f_cond + self.time_embed(self.pe[t])[:, None], xt], -1))
        pad = torch.arange(n)[None] >= length[:, None]
        blocked = pad[:, None, :].expand(b, n, n)
        if n > self.window:                      # the release's dense L x L window mask
            i = torch.arange(n)
            lo = torch.clamp(i - self.window // 2, min=0).clamp(max=n - self.window)
            hi = torch.clamp(i + self.window // 2, max=n).clamp(min=self.window)
            j = torch.arange(n)[None]
            blocked = blocked | (j < lo[:, None]) | (j >= hi[:, None])
        if self.text:
            tokens = self.embed_text(text) + self.pe[: text.shape[1]]
        for i, block in enumerate(self.blocks):
            if self.text:
                x = self.text_blocks[i](x, tokens)
            x = block(x, blocked)
        out = self.final_layer(x)
        valid = (~pad)[..., None].float()
        betas = (out[..., 126:136] * valid).sum(1, keepdim=True) / length[:, None, None]
        out = torch.cat([out[..., :126], betas.expand(b, n, 10), out[..., 136:]], -1)
        cam = self.pred_cam_head(x) * self.cam_std + self.cam_mean
        cam = torch.cat([cam[..., :1].clamp(min=0.25), cam[..., 1:]], -1)
        return {"x0": out, "pred_cam": cam, "contact_logits": self.static_conf_head(x),
                "hidden": x}


def load_golden_params(net, golden):
    """Copy the golden file's `param/*` (release names) into this transcription."""
    rename = {"embed_timestep.time_embed.": "time_embed.", "text_encoder_layers.": "text_blocks."}
    state = {}
    for key in golden.files:
        if not key.startswith("param/"):
            continue
        name = key[len("param/"):]
        for old, new in rename.items():
            name = name.replace(old, new)
        state[name] = torch.from_numpy(golden[key])
    net.load_state_dict(state, strict=True)
    return net
