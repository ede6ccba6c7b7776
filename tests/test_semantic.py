"""The semantic ranking's building blocks: a model read from a folder named in the config,
vectors cached in the state (on both engines), cosines and their words, and one clear line when
the extra or the model is missing. Every model is built here, tiny: nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newsletter import embedder as embedder_module
from newsletter.config import load_config
from newsletter.config_blocks import RankingConfig
from newsletter.embedder import DEFAULT_MODEL, EXTRA, EXTRA_MISSING, Embedder
from newsletter.errors import ConfigError, NewsletterError
from newsletter.meaning import Meaning
from newsletter.models import Paper, Profile
from newsletter.plan import select_day
from newsletter.semantic import (
    KEPT_DAYS,
    TEXT_KEY,
    day_embeddings,
    forget_unused,
    paper_text,
    reader_embeddings,
    reader_text,
    text_hash,
)
from newsletter.session import Session
from newsletter.store import Store, StoredVector
from tests.conftest import MINIMAL, REPO

# a static model: each word's vector, a text's vector the mean of its words'
WORDS = {
    "[UNK]": [0, 0, 0, 0], "[PAD]": [0, 0, 0, 0],
    "diffusion": [1, 0, 0, 0], "denoising": [0.9, 0.1, 0, 0], "image": [0.8, 0, 0.2, 0],
    "robot": [0, 1, 0, 0], "grasping": [0, 0.9, 0.1, 0], "policy": [0, 0.8, 0, 0.2],
    "language": [0, 0, 1, 0], "model": [0, 0, 0.2, 0.8],
}  # fmt: skip
LIBRARIES = ["model2vec", "sentence_transformers"]


def static_model(folder: Path, words: dict[str, list[float]] = WORDS) -> Path:
    """A model2vec model of `words` saved to `folder` (sentence-transformers reads it too)."""
    model2vec = pytest.importorskip("model2vec")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.normalizers import Lowercase
    from tokenizers.pre_tokenizers import Whitespace

    tokenizer = Tokenizer(WordLevel({w: n for n, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.normalizer = Lowercase()
    tokenizer.pre_tokenizer = Whitespace()
    vectors = np.array(list(words.values()), dtype=np.float32)
    model2vec.StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True).save_pretrained(
        str(folder)
    )
    return folder


@pytest.fixture(autouse=True)
def fresh_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test loads its models anew (the process keeps them otherwise)."""
    monkeypatch.setattr(embedder_module, "_loaded", {})


@pytest.fixture(params=LIBRARIES)
def library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with each library: model2vec alone (sentence-transformers hidden), then
    sentence-transformers (which reads static models too), when installed."""
    if request.param == "model2vec":
        monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    else:
        pytest.importorskip("sentence_transformers")
    return str(request.param)


@pytest.fixture
def model(tmp_path: Path, library: str) -> Embedder:
    return Embedder.load(str(static_model(tmp_path / "model")))


class Spy:
    """Records what a model is asked to encode."""

    def __init__(self, embedder: Embedder) -> None:
        self.batches: list[list[str]] = []
        self._encode = embedder._encode
        embedder._encode = self

    def __call__(self, texts: list[str]) -> Any:
        self.batches.append(texts)
        return self._encode(texts)

    @property
    def texts(self) -> list[str]:
        return [text for batch in self.batches for text in batch]


def paper(paper_id: str, title: str, abstract: str = "") -> Paper:
    return Paper(id=paper_id, title=title, abstract=abstract)


PAPERS = [
    paper("2607.00001", "Diffusion", "image denoising"),
    paper("2607.00002", "Robot grasping", "a policy"),
    paper("2607.00003", "Language model"),
]


# --- the model ------------------------------------------------------------------------------


def test_the_config_names_a_model_folder_relative_to_itself(tmp_path: Path, library: str) -> None:
    static_model(tmp_path / "models" / "tiny")
    path = tmp_path / "subscribers.yaml"
    path.write_text(MINIMAL.replace(
        "  sources:", "  ranking: {semantic: true, model: models/tiny}\n  sources:"
    ))  # fmt: skip
    config = load_config(path)
    assert config.newsletter.ranking.semantic
    assert config.ranking_model == str(tmp_path / "models" / "tiny")
    model = Embedder.load(config.ranking_model)
    assert model.dim == 4
    assert model.model_id.startswith(library.replace("_", "-") + ":tiny@")
    vectors = model.encode(["diffusion image", "robot grasping", "language model", "nothing"])
    assert vectors.dtype == np.float32 and vectors.shape == (4, 4)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0)
    assert not vectors[3].any()  # no word of the model: zeros, not NaN
    assert vectors[0] @ vectors[1] < 0.2 < 0.9 < vectors[0] @ model.encode(["denoising"])[0]
    assert Embedder.load(config.ranking_model) is model  # once per process


def test_a_hub_name_is_left_to_the_library_and_the_defaults_are_off(tmp_path: Path) -> None:
    ranking = RankingConfig()
    assert (ranking.semantic, ranking.model, ranking.weight) == (False, DEFAULT_MODEL, 0.3)
    config = load_config(_config(tmp_path, "ranking: {semantic: false, model: ./nowhere}"))
    assert config.ranking_model == str(tmp_path / "nowhere")  # unused: nothing checked
    assert embedder_module.model_source("owner/name", tmp_path) == "owner/name"


def test_a_model_folder_that_is_not_there_is_reported_with_its_line(tmp_path: Path) -> None:
    path = _config(tmp_path, "ranking:\n    semantic: true\n    model: ./models/nowhere")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.key) == (6, "newsletter.ranking.model")
    assert problem.message.startswith(f"model folder {tmp_path / 'models' / 'nowhere'} does not")


def test_the_default_model_with_model2vec_alone_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("model2vec")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ConfigError, match="all-MiniLM-L6-v2 needs sentence-transformers: pip"):
        load_config(_config(tmp_path, "ranking: {semantic: true}"))


def test_without_the_extra_validate_names_it_and_loads_nothing(tmp_path: Path) -> None:
    path = _config(tmp_path, "ranking:\n    semantic: true")
    hide = (
        "import sys; sys.modules['sentence_transformers'] = sys.modules['model2vec'] = None\n"
        "from newsletter.cli import main\n"
        "try:\n    main()\n"
        "finally:\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'torch', 'transformers', 'tokenizers', 'safetensors')))"
    )
    result = subprocess.run([sys.executable, "-c", hide, "validate", "-c", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert result.returncode == 1, result.stdout
    expected = f"{path}:5: newsletter.ranking.semantic: needs its extra: {EXTRA}"
    assert expected in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"  # the check imports no library


def test_without_the_extra_loading_a_model_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setitem(sys.modules, "model2vec", None)
    with pytest.raises(NewsletterError) as caught:
        Embedder.load(str(tmp_path))
    assert str(caught.value) == EXTRA_MISSING == f"ranking.semantic needs its extra: {EXTRA}"
    assert EXTRA == 'pip install "paper-digest-mail[semantic]"'


@pytest.mark.parametrize("content", ["nothing", "garbage"])
def test_a_model_that_cannot_be_loaded_is_one_line_naming_it(
    tmp_path: Path, library: str, content: str
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    if content == "garbage":
        static_model(tmp_path / "good")
        for name in ("config.json", "modules.json", "tokenizer.json"):
            (folder / name).write_bytes((tmp_path / "good" / name).read_bytes())
        (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(NewsletterError) as caught:
        Embedder.load(str(folder))
    message = str(caught.value)
    assert message.startswith(f"model {folder} cannot be loaded: ")
    assert "\n" not in message


def test_a_folder_whose_model_was_replaced_is_another_model_with_its_own_vectors(
    tmp_path: Path, library: str
) -> None:
    first = Embedder.load(str(static_model(tmp_path / "a" / "tiny")))
    other = {**WORDS, "diffusion": [0, 0, 0, 1]}
    second = Embedder.load(str(static_model(tmp_path / "b" / "tiny", other)))
    assert first.model_id != second.model_id  # same name and size, other weights
    with Store(tmp_path / "state.db") as store:
        one = day_embeddings(store, PAPERS[:1], first)
        assert not np.allclose(one, day_embeddings(store, PAPERS[:1], second))
        assert store.count_rows("embeddings") == 2


@pytest.mark.slow
def test_a_transformer_model_folder_loads(tmp_path: Path) -> None:
    """A sentence-transformers model built from modules (a one-layer BERT), saved, loaded."""
    pytest.importorskip("sentence_transformers")
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    base, words = tmp_path / "bert", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "robot"]
    base.mkdir()
    (base / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(base / "vocab.txt")).save_pretrained(str(base))
    torch.manual_seed(0)
    size = {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 6}
    bert = BertConfig(intermediate_size=16, max_position_embeddings=64, **size)
    BertModel(bert).save_pretrained(str(base))
    modules = [models.Transformer(str(base), max_seq_length=32), models.Pooling(8)]
    SentenceTransformer(modules=[*modules, models.Normalize()]).save(str(tmp_path / "st"))
    model = Embedder.load(str(tmp_path / "st"))
    assert model.model_id.startswith("sentence-transformers:st@") and model.dim == 8
    vectors = model.encode(["robot", "robot robot"])
    assert vectors.shape == (2, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


# --- the cache ------------------------------------------------------------------------------


def test_a_days_vectors_are_encoded_once_and_kept(state_at: Path | str, model: Embedder) -> None:
    spy = Spy(model)
    with Store(state_at) as store:
        first = day_embeddings(store, PAPERS, model)
        assert spy.texts == [paper_text(p) for p in PAPERS]
        assert np.allclose(first, model.encode([paper_text(p) for p in PAPERS]))
        spy.batches.clear()
        again = day_embeddings(store, list(reversed(PAPERS)), model)
        assert spy.batches == []  # nothing new: read from the state
        assert np.array_equal(again, first[::-1])
    with Store(state_at) as store:  # kept across processes
        assert np.array_equal(day_embeddings(store, PAPERS, model), first)
        assert spy.batches == []


def test_a_paper_whose_text_changed_is_encoded_again(state_at: Path | str, model: Embedder) -> None:
    spy = Spy(model)
    with Store(state_at) as store:
        day_embeddings(store, PAPERS, model)
        spy.batches.clear()
        changed = paper("2607.00001", "Robot grasping", "policy")  # a new version, another text
        vectors = day_embeddings(store, [changed, *PAPERS[1:]], model)
        assert spy.batches == [[paper_text(changed)]]
        assert np.allclose(vectors[0], vectors[1])  # now about robots, like the second
        kept = store.embeddings(model.model_id, ["2607.00001"])["2607.00001"]
        assert kept.text_hash == text_hash(paper_text(changed))


def test_encoding_goes_in_batches_each_kept(
    tmp_path: Path, model: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newsletter.semantic.ENCODE_BATCH", 2)
    spy = Spy(model)
    many = [paper(f"2607.{n:05d}", "diffusion" if n % 2 else "robot") for n in range(5)]
    with Store(tmp_path / "state.db") as store:
        day_embeddings(store, many, model)
        assert [len(batch) for batch in spy.batches] == [2, 2, 1]
        assert store.count_rows("embeddings") == 5


def test_readers_texts_are_kept_by_their_hash(state_at: Path | str, model: Embedder) -> None:
    spy = Spy(model)
    readers = [
        Profile("ada@example.org", description="Image denoising", keywords=("diffusion",)),
        Profile("bob@example.org", authors=("Ada Lovelace",)),  # no text: zeros
        Profile("cy@example.org", description="Image denoising", keywords=("diffusion",)),
    ]
    assert reader_text(readers[0]) == "Image denoising. diffusion"
    assert reader_text(readers[1]) is None
    with Store(state_at) as store:
        vectors = reader_embeddings(store, readers, model)
        assert spy.texts == ["Image denoising. diffusion"]  # the same text once
        assert np.array_equal(vectors[0], vectors[2]) and not vectors[1].any()
        key = TEXT_KEY + text_hash("Image denoising. diffusion")
        assert list(store.embeddings(model.model_id, [key])) == [key]
        spy.batches.clear()
        assert np.array_equal(reader_embeddings(store, readers, model), vectors)
        assert spy.batches == []


def test_the_store_keeps_replaces_and_separates_vectors(state_at: Path | str) -> None:
    vector = np.arange(3, dtype="<f4").tobytes()
    with Store(state_at) as store:
        store.save_embeddings("m", [StoredVector("2607.00001", "h1", vector, 3)])
        store.save_embeddings("m", [StoredVector("2607.00001", "h2", vector[::-1], 3)])
        store.save_embeddings("other", [StoredVector("2607.00001", "h3", vector, 3)])
        found = store.embeddings("m", ["2607.00001", "2607.00002"])
        assert found == {"2607.00001": StoredVector("2607.00001", "h2", vector[::-1], 3)}
        assert store.embeddings("m", []) == {}
        many = [StoredVector(f"k{n}", "h", vector, 3) for n in range(1200)]  # several IN lists
        store.save_embeddings("m", many)
        assert len(store.embeddings("m", [v.key for v in many])) == 1200


def test_vectors_not_used_for_a_month_are_let_go(
    state_at: Path | str, model: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Papers gone from the listings and readers' old texts do not pile up: a vector read or
    written is marked with the day, and those unused for KEPT_DAYS days are let go (and
    encoded again if they come back)."""
    spy = Spy(model)
    reader = Profile("ada@example.org", description="Image denoising")
    first, later = date(2026, 7, 1), date(2026, 7, 20)
    with Store(state_at) as store:
        monkeypatch.setattr("newsletter.semantic._today", lambda: first)
        day_embeddings(store, PAPERS, model)
        reader_embeddings(store, [reader], model)
        monkeypatch.setattr("newsletter.semantic._today", lambda: later)
        day_embeddings(store, PAPERS[:1], model)  # read again: marked as used on the later day
        assert forget_unused(store, later) == 0
        assert forget_unused(store, first + timedelta(days=KEPT_DAYS + 1)) == len(PAPERS)
        assert store.count_rows("embeddings") == 1
        assert list(store.embeddings(model.model_id, [p.id for p in PAPERS])) == [PAPERS[0].id]
        spy.batches.clear()
        day_embeddings(store, PAPERS, model)
        assert spy.batches == [[paper_text(p) for p in PAPERS[1:]]]
        assert forget_unused(store, later + timedelta(days=KEPT_DAYS)) == 0


def test_vectors_are_copied_between_engines_bit_for_bit(tmp_path: Path, pg_url: str) -> None:
    from newsletter.store.copy import copy_state

    vector = np.array([0.25, -1.5, 3e-8], dtype="<f4").tobytes()
    with Store(tmp_path / "state.db") as source, Store(pg_url) as dest:
        source.save_embeddings("m", [StoredVector("2607.00001", "h", vector, 3)])
        copy_state(source, dest)
        assert dest.embeddings("m", ["2607.00001"])["2607.00001"].vector == vector


# --- levels for the ranking ----------------------------------------------------------------


def test_levels_of_closeness_in_meaning_are_each_readers_own(
    tmp_path: Path, model: Embedder
) -> None:
    with Store(tmp_path / "state.db") as store:
        papers = day_embeddings(store, PAPERS, model)
        readers = [
            Profile("ada@example.org", description="Denoising diffusion"),
            Profile("bob@example.org", keywords=("robot",)),
            Profile("cy@example.org", authors=("Ada Lovelace",)),
        ]
        vectors = reader_embeddings(store, readers, model)
    meaning = Meaning(papers, papers, vectors, 0.3)
    found, has_text = meaning.levels(0, 3)
    assert has_text.tolist() == [True, True, False]  # an author alone: nothing to compare
    assert found.level[0].argmax() == 0 and found.level[1].argmax() == 1
    assert found.cosine[0, 0] > 0.9 and not found.cosine[2].any()
    alone, _ = meaning.levels(1, 2)
    assert np.allclose(alone.level, found.level[1:2])  # another reader changes nothing


def test_the_semantic_modules_import_no_library(tmp_path: Path) -> None:
    code = (
        "import sys, newsletter.semantic, newsletter.embedder, newsletter.config\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'torch', 'sentence_transformers', 'model2vec', 'transformers')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _config(tmp_path: Path, ranking: str) -> Path:
    path = tmp_path / "subscribers.yaml"
    path.write_text(MINIMAL.replace("  sources:", f"  {ranking}\n  sources:"))
    return path


# --- in the ranking ----------------------------------------------------------------------------

DAY = date(2026, 7, 27)
MEANING_CONFIG = """\
newsletter:
  title: T
  sender: "T <t@example.org>"
  {ranking}
  sources:
    - type: arxiv
      categories: [cs.LG]
subscribers:
  - email: ada@example.org
    interests:
      description: diffusion
  - email: bob@example.org
    interests:
      categories: [cs.LG]
"""


def test_a_paper_close_in_meaning_is_picked_and_says_why(tmp_path: Path, library: str) -> None:
    """ "diffusion" shares no word with "denoising image": only the model knows they are close.
    Off, the paper is not picked; on, it is, with a reason that says so; a reader without text
    is scored as before."""
    static_model(tmp_path / "tiny")
    papers = [paper("2607.00001", "Denoising", "image denoising")]
    papers += [paper(f"2607.{n:05d}", "Robot grasping", "a policy") for n in range(2, 12)]
    picks: dict[bool, list[tuple[str, tuple[str, ...]]]] = {}
    for semantic in (False, True):
        ranking = f"ranking: {{semantic: {str(semantic).lower()}, model: tiny, weight: 1}}"
        path = tmp_path / f"{semantic}.yaml"
        path.write_text(MEANING_CONFIG.format(ranking=ranking), encoding="utf-8")
        config = load_config(path)
        with Session.open(config, online=False) as session:
            session.store.save_day(DAY, "arxiv", papers)
            plan = select_day(session, DAY, config.readers)
        ada = plan.picks[0].selection
        picks[semantic] = [(p.paper.id, p.reasons) for p in ada.papers]
        assert plan.picks[1].selection.papers == ()  # categories only: no category, no pick
    assert "2607.00001" not in [paper_id for paper_id, _ in picks[False]]
    assert picks[True][0] == ("2607.00001", ("close in meaning to your description",))
