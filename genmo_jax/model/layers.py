"""Small layers shared by the denoiser and the condition embedders (PyTorch-release layouts)."""

from flax import nnx


def torch_linear_init():
    """Kernel init of torch.nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return nnx.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class Mlp(nnx.Module):
    """timm `Mlp`: fc1 . GELU . dropout . fc2 . dropout; (..., in_dim) -> (..., out_dim)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, *, approximate_gelu: bool,
                 dropout: float = 0.0, rngs: nnx.Rngs):
        init = torch_linear_init()
        self.approximate_gelu = approximate_gelu
        self.fc1 = nnx.Linear(in_dim, hidden_dim, kernel_init=init, rngs=rngs)
        self.fc2 = nnx.Linear(hidden_dim, out_dim, kernel_init=init, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x, *, deterministic: bool = True):
        x = nnx.gelu(self.fc1(x), approximate=self.approximate_gelu)
        x = self.dropout(x, deterministic=deterministic)
        return self.dropout(self.fc2(x), deterministic=deterministic)
