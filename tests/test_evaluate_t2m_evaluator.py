"""The JAX HumanML3D evaluator against the PyTorch modules of text-to-motion (networks/modules.py,
re-declared here) on a small random checkpoint that the test writes in the published format."""

import pickle

import numpy as np
import pytest

from genmo_jax.evaluate import t2m_evaluator as t2m


def test_caption_arrays_and_word_vectorizer(tmp_path):
    words = ["unk", "sos", "eos", "a", "man", "walk", "left"]
    vectors = np.arange(len(words) * 3, dtype=np.float32).reshape(len(words), 3)
    np.save(tmp_path / "our_vab_data.npy", vectors)
    with open(tmp_path / "our_vab_words.pkl", "wb") as f:
        pickle.dump(words, f)
    with open(tmp_path / "our_vab_idx.pkl", "wb") as f:
        pickle.dump({w: i for i, w in enumerate(words)}, f)
    vec = t2m.WordVectorizer(str(tmp_path))
    w, pos, length = t2m.caption_to_arrays(vec, ["a/DET", "man/NOUN", "walk/VERB", "left/ADV", "zebra/NOUN"])
    assert length == 7 and w.shape == (22, 3) and pos.shape == (22, 15)
    np.testing.assert_array_equal(w[0], vectors[1])  # sos
    assert pos[3].argmax() == t2m.POS_ENUMERATOR["Act_VIP"]  # 'walk' is a VIP action word
    assert pos[4].argmax() == t2m.POS_ENUMERATOR["Loc_VIP"]
    np.testing.assert_array_equal(w[5], vectors[0])  # unknown word -> unk, POS OTHER
    assert pos[5].argmax() == t2m.POS_ENUMERATOR["OTHER"]
    np.testing.assert_array_equal(w[7:], np.tile(vectors[0], (15, 1)))  # padding with unk
    _, _, long_length = t2m.caption_to_arrays(vec, ["a/DET"] * 30)
    assert long_length == 22
    with pytest.raises(FileNotFoundError, match="GloVe"):
        t2m.WordVectorizer(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="evaluator checkpoint"):
        t2m.load_t2m_evaluator(str(tmp_path / "finest.tar"))


def test_the_checkpoint_is_read_without_torch(tmp_path):
    """A torch.save zip file (written here by torch_pickle in that format; the ref test below
    reads one written by torch itself) needs no torch; bad files name themselves."""
    from genmo_jax import torch_pickle
    partial = tmp_path / "partial.tar"
    torch_pickle.save({"text_encoder": {"input_emb.weight": np.ones((2, 3), np.float32)},
                       "epoch": 3}, str(partial))
    with pytest.raises(ValueError, match="missing 'movement_encoder'"):
        t2m.load_t2m_evaluator(str(partial))
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.tar"):
        t2m.load_t2m_evaluator(str(broken))


@pytest.mark.ref
def test_matches_pytorch_evaluator_modules(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    from torch.nn.utils.rnn import pack_padded_sequence

    class MovementConvEncoder(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv1d(input_size, hidden_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
                nn.Conv1d(hidden_size, output_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2))
            self.out_net = nn.Linear(output_size, output_size)

        def forward(self, inputs):
            return self.out_net(self.main(inputs.permute(0, 2, 1)).permute(0, 2, 1))

    class BiGRUCo(nn.Module):
        def __init__(self, input_size, hidden_size, output_size, pos_size=None):
            super().__init__()
            if pos_size is not None:
                self.pos_emb = nn.Linear(pos_size, input_size)
            self.input_emb = nn.Linear(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
            self.output_net = nn.Sequential(nn.Linear(hidden_size * 2, hidden_size), nn.LayerNorm(hidden_size),
                                            nn.LeakyReLU(0.2), nn.Linear(hidden_size, output_size))
            self.hidden = nn.Parameter(torch.randn((2, 1, hidden_size)))

        def forward(self, inputs, lengths, pos_onehot=None):
            if pos_onehot is not None:
                inputs = inputs + self.pos_emb(pos_onehot)
            embs = self.input_emb(inputs)
            hidden = self.hidden.repeat(1, inputs.shape[0], 1)
            packed = pack_padded_sequence(embs, lengths.tolist(), batch_first=True, enforce_sorted=False)
            _, last = self.gru(packed, hidden)
            return self.output_net(torch.cat([last[0], last[1]], dim=-1))

    torch.manual_seed(0)
    movement = MovementConvEncoder(259, 16, 12).eval()
    motion = BiGRUCo(12, 20, 8).eval()
    text = BiGRUCo(30, 10, 8, pos_size=15).eval()
    path = tmp_path / "finest.tar"
    torch.save({"movement_encoder": movement.state_dict(), "text_encoder": text.state_dict(),
                "motion_encoder": motion.state_dict(), "epoch": 3}, path)
    params = t2m.load_t2m_evaluator(str(path))
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.tar"):
        t2m.load_t2m_evaluator(str(broken))
    torch.save({"text_encoder": text.state_dict()}, tmp_path / "partial.tar")
    with pytest.raises(ValueError, match="missing 'movement_encoder'"):
        t2m.load_t2m_evaluator(str(tmp_path / "partial.tar"))

    rng = np.random.default_rng(0)
    lengths = np.array([40, 61, 23])
    motions_list = [rng.normal(size=(n, 263)).astype(np.float32) for n in lengths]
    batch, batch_lengths = t2m.pad_motions(motions_list)
    ours = np.asarray(t2m.embed_motions(params, batch, batch_lengths))
    with torch.no_grad():
        movements = movement(torch.from_numpy(batch[..., :-4]))
        ref = motion(movements, torch.from_numpy(lengths // 4)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)

    words = rng.normal(size=(3, 22, 30)).astype(np.float32)
    pos = np.eye(15, dtype=np.float32)[rng.integers(0, 15, size=(3, 22))]
    text_lengths = np.array([9, 22, 4])
    ours_text = np.asarray(t2m.embed_texts(params, words, pos, text_lengths))
    with torch.no_grad():
        ref_text = text(torch.from_numpy(words), torch.from_numpy(text_lengths), torch.from_numpy(pos)).numpy()
    np.testing.assert_allclose(ours_text, ref_text, rtol=1e-4, atol=1e-5)

    # Padding after the valid frames does not change an embedding (packed-sequence semantics).
    alone = np.asarray(t2m.embed_motions(params, batch[:1, :120], batch_lengths[:1]))
    np.testing.assert_allclose(alone, ours[:1], rtol=1e-5, atol=1e-6)
