"""Flax/JAX T5 encoder: tokenisation and hidden states against transformers on tiny random models."""

import numpy as np
import pytest

from genmo_jax.model.text import t5

CAPTIONS = [
    "a person walks forward and then turns around",
    "someone jumps up and down twice",
    "the man raises his left arm above his head",
    "a woman dances happily in a circle",
    "a person sits down slowly on a chair",
    "he kicks with his right foot",
    "the person runs quickly to the left and stops",
    "someone waves with both hands",
    "a person crawls on the floor",
    "a man picks something up from the ground",
    "the dancer spins on one leg",
    "a person walks backwards carefully",
    "someone stretches both arms to the sky",
    "a person climbs up the stairs",
    "she throws a ball with her right hand",
    "a person bows politely",
    "he jogs in place for a few seconds",
    "the person steps to the side and claps",
    "a woman kneels down and stands up again",
    "someone punches forward with the left fist",
]


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    """A T5-style unigram SentencePiece model (pad 0, eos 1, unk 2, no bos) trained on the captions."""
    spm = pytest.importorskip("sentencepiece")
    folder = tmp_path_factory.mktemp("spm")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CAPTIONS * 3) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(folder / "spiece"), vocab_size=150,
                                   model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   hard_vocab_limit=False, minloglevel=2)
    return folder / "spiece.model"


def test_relative_position_buckets_small_offsets_and_directions():
    b = t5.relative_position_buckets(6, 6, num_buckets=32, max_distance=128)
    # Exact buckets for small offsets: key − query in 1..7 -> 16 + offset, in −7..0 -> |offset|.
    for q in range(6):
        for k in range(6):
            want = (16 + (k - q)) if k > q else (q - k)
            assert b[q, k] == want
    far = t5.relative_position_buckets(1, 400)[0]
    assert far.max() == 31 and np.all(np.diff(far[1:]) >= 0)   # log-spaced, monotone, clipped


def test_tokenizer_appends_eos_pads_and_truncates(spm_model):
    tok = t5.SentencePieceTokenizer(spm_model, max_length=12)
    ids, mask = tok(["a person walks", "a person walks forward and then turns around " * 5])
    n0 = int(mask[0].sum())
    assert ids[0, n0 - 1] == 1 and np.all(ids[0, n0:] == 0) and not mask[0, n0:].any()
    assert mask[1].all() and ids[1, -1] == 1                      # truncated to 11 pieces + </s>
    pieces = tok.processor.encode("a person walks")
    assert ids[0, :n0 - 1].tolist() == pieces


def test_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        t5.T5TextEncoder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="config.json"):
        t5.T5TextEncoder(tmp_path)


def _tiny_t5(folder, spm_model, feed_forward_proj, seed):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import shutil

    torch.manual_seed(seed)
    config = transformers.T5Config(vocab_size=2000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                   feed_forward_proj=feed_forward_proj, dropout_rate=0.0)
    model = transformers.T5EncoderModel(config).eval()
    with torch.no_grad():   # random (not init-time) norm gains so that they are tested too
        for name, param in model.named_parameters():
            if "layer_norm" in name:
                param.copy_(1.0 + 0.3 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copy(spm_model, folder / "spiece.model")
    return model


@pytest.mark.ref
@pytest.mark.parametrize("feed_forward_proj", ["gated-gelu", "relu"])
def test_t5_matches_transformers(tmp_path, spm_model, feed_forward_proj):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("google.protobuf")
    model = _tiny_t5(tmp_path, spm_model, feed_forward_proj, seed=0)
    texts = ["a person walks forward and then turns around",
             "he kicks",
             "someone dances, jumps and spins on one leg while waving both hands " * 4,   # truncated
             "a zebra-like xylophone!"]                                                 # unknown pieces

    ours = t5.T5TextEncoder(tmp_path, max_length=50)
    states, mask = ours.encode(texts)

    tokenizer = transformers.T5Tokenizer.from_pretrained(str(tmp_path), extra_ids=0)
    batch = tokenizer(texts, padding="max_length", max_length=50, truncation=True, return_tensors="pt")
    ids, _ = ours.tokenize(texts)
    np.testing.assert_array_equal(ids, batch["input_ids"].numpy())
    np.testing.assert_array_equal(mask, batch["attention_mask"].numpy().astype(bool))
    with torch.no_grad():
        ref = model(**batch).last_hidden_state * batch["attention_mask"][..., None]
    assert states.shape == (4, 50, 64) and states.dtype == np.float32
    np.testing.assert_allclose(states, ref.numpy(), atol=1e-4)
    assert np.abs(ref.numpy()).max() > 0.1   # not a vacuous comparison
    assert not states[~mask].any()


@pytest.mark.ref
def test_relative_position_buckets_match_transformers():
    pytest.importorskip("torch")
    import torch
    from transformers.models.t5.modeling_t5 import T5Attention

    for num_buckets, max_distance in [(32, 128), (16, 20), (64, 256)]:
        ours = t5.relative_position_buckets(300, 300, num_buckets, max_distance)
        rel = torch.arange(300)[None, :] - torch.arange(300)[:, None]
        ref = T5Attention._relative_position_bucket(rel, bidirectional=True, num_buckets=num_buckets,
                                                    max_distance=max_distance)
        np.testing.assert_array_equal(ours, ref.numpy())


@pytest.mark.ref
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_t5_loads_sharded_seq2seq_checkpoints(tmp_path, spm_model, dtype):
    """A whole T5ForConditionalGeneration saved in several shards (float32 or bfloat16 weights):
    decoder ignored, encoder equal to the reference with the same (bfloat16-rounded) weights."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import shutil

    torch.manual_seed(3)
    config = transformers.T5Config(vocab_size=2000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                   feed_forward_proj="gated-gelu", dropout_rate=0.0)
    model = transformers.T5ForConditionalGeneration(config).eval().to(getattr(torch, dtype))
    model.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="200KB")
    model = model.float()
    assert (tmp_path / "model.safetensors.index.json").is_file()
    shutil.copy(spm_model, tmp_path / "spiece.model")
    ours = t5.T5TextEncoder(tmp_path)
    texts = ["someone waves with both hands"]
    states, mask = ours.encode(texts)
    ids, _ = ours.tokenize(texts)
    with torch.no_grad():
        ref = model.encoder(input_ids=torch.as_tensor(ids, dtype=torch.long),
                            attention_mask=torch.as_tensor(mask, dtype=torch.long)).last_hidden_state
    np.testing.assert_allclose(states, ref.numpy() * mask[..., None], atol=1e-4)


@pytest.mark.ref
def test_tokenizer_matches_transformers_on_awkward_text(tmp_path, spm_model):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("google.protobuf")
    import shutil

    shutil.copy(spm_model, tmp_path / "spiece.model")
    reference = transformers.T5Tokenizer.from_pretrained(str(tmp_path), extra_ids=0)
    ours = t5.SentencePieceTokenizer(tmp_path / "spiece.model", max_length=50)
    # (A literal "</s>" inside a caption is the one known difference: transformers treats it as the
    # special token, SentencePiece as text. Captions never contain it.)
    texts = ["  two  spaces ", "tab\tnew\nline", "Café naïve", "UPPER case", "", "a.b,c!?", "ｆｕｌｌ width"]
    ids, mask = ours(texts)
    batch = reference(texts, padding="max_length", max_length=50, truncation=True)
    np.testing.assert_array_equal(ids, np.asarray(batch["input_ids"]))
    np.testing.assert_array_equal(mask, np.asarray(batch["attention_mask"], bool))
