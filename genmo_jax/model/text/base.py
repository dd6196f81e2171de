"""What every text encoder shares: batching, empty captions, the (N, S, D) + mask contract."""

from __future__ import annotations

import numpy as np


class TextEncoder:
    """A frozen per-token text encoder.

    Subclasses set `name` (identifies the weights, used as the cache key), `dim` (D),
    `max_length` (S, 50 for GENMO) and implement `tokenize` and `_forward`.

    `encode(texts)` returns per-token states (N, S, D) float32 with padding positions zeroed
    (SPEC B §5.5: the last hidden state multiplied by the attention mask) and the mask (N, S)
    bool. An empty caption means "no text": all-zero states and an all-False mask.
    """

    name: str
    dim: int
    max_length: int

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Returns token ids (N, S) int32 and attention mask (N, S) bool."""
        raise NotImplementedError

    def _forward(self, ids, mask):
        """Jitted network: ids (B, S) int32, mask (B, S) bool -> states (B, S, D) float32."""
        raise NotImplementedError

    def encode(self, texts, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a list of strings")
        texts = list(texts)
        states = np.zeros((len(texts), self.max_length, self.dim), np.float32)
        mask = np.zeros((len(texts), self.max_length), bool)
        present = [i for i, t in enumerate(texts) if t.strip()]
        # Fixed-size chunks (the last one padded with a dummy caption) so one compile serves all.
        for start in range(0, len(present), batch_size):
            rows = present[start:start + batch_size]
            chunk = [texts[i] for i in rows] + ["."] * (batch_size - len(rows))
            ids, chunk_mask = self.tokenize(chunk)
            out = np.asarray(self._forward(ids, chunk_mask))
            states[rows] = out[:len(rows)] * chunk_mask[:len(rows), :, None]
            mask[rows] = chunk_mask[:len(rows)]
        return states, mask
