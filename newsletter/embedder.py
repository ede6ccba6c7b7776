"""The sentence-embedding model of the optional semantic ranking: found, loaded once per
process, and used to turn texts into unit vectors (`semantic.py` caches and compares them).

    ranking: {semantic: true}                          sentence-transformers/all-MiniLM-L6-v2
    ranking: {semantic: true, model: models/minilm}    a folder, relative to the config's

A hub name is downloaded once, at first use, into the library's cache (~/.cache/huggingface;
HF_HUB_OFFLINE=1 then runs from it alone); a folder is read as it is, so a machine that cannot
reach the hub is given the model as files.

Why sentence-transformers, and model2vec beside it. Measured on this project's labelled set
(benchmarks/relevance.py: 490 papers, 17 readers) and on 2,000 generated abstracts, two cores
shared with other work (benchmarks/semantic_speed.py):

    all-MiniLM-L6-v2 (sentence-transformers, PyTorch)   26-48 papers/s to encode
        alone: P@5 0.73, nDCG@10 0.70 (description and keywords against title and abstract)
        weighed into the similarity's levels (`meaning.py`, weight 0.3) of the lexical
        ranking: P@5 0.894 -> 0.894, nDCG@10 0.868 -> 0.879 (0.2: 0.874; 0.4: 0.885); into
        an earlier, weaker lexical ranking: P@5 0.73 -> 0.85, nDCG@10 0.75 -> 0.85
    the same model distilled to a static model (model2vec, numpy only)   1,900-3,300 papers/s
        alone: P@5 0.55, nDCG@10 0.53; blended: a loss at every weight tried (0.3-0.7)

Only the transformer adds to the ranking, and what it costs is paid once: a day's papers are
encoded once and cached in the state (one to two minutes for 2,000), each reader's text once
until it changes. So the
`semantic` extra is sentence-transformers (it reads static models too). model2vec, numpy only,
is accepted where PyTorch is not wanted: it loads static models alone (model2vec's own format,
e.g. minishlab/potion-base-8M, or one distilled from any sentence-transformers model with
model2vec's `distill`), and the tests run on it. The library found first in `LIBRARIES` is used.

`Embedder.model_id` names the model in the state's cache: the library and the hub name, or the
folder's name and a hash of its files, so that a folder whose model was replaced is never read
with the old model's vectors.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EXTRA = 'pip install "paper-digest-mail[semantic]"'
EXTRA_MISSING = f"ranking.semantic needs its extra: {EXTRA}"
LIBRARIES = ("sentence_transformers", "model2vec")  # by preference
BATCH = 32  # texts per forward pass: a transformer pads a batch to its longest text

Encode = Callable[[list[str]], Any]


def installed_library() -> str | None:
    """The first of `LIBRARIES` that can be imported (found without importing it)."""
    for name in LIBRARIES:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def written_as_path(model: str) -> bool:
    """Whether `model` can only be a folder: a hub name is `NAME` or `OWNER/NAME`."""
    return model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1


def model_source(model: str, base_dir: Path) -> str:
    """What to load for the config's `model`: a folder (a relative path is taken from the
    config's folder) when it is written as a path or is one there; otherwise a hub name."""
    path = Path(model).expanduser()
    folder = path if path.is_absolute() else base_dir / path
    if written_as_path(model) or folder.exists():
        return str(folder.resolve())
    return model


def model_problem(model: str, base_dir: Path) -> str | None:
    """What stops the config's `model` from loading that is told without loading it: a folder
    that is not there; the default model, a transformer, with model2vec alone."""
    source = model_source(model, base_dir)
    if source != model or written_as_path(model):
        if not Path(source).is_dir():
            what = "is not a folder" if Path(source).exists() else "does not exist"
            return f"model folder {source} {what} (a model is a hub name or a folder)"
    elif model == DEFAULT_MODEL and installed_library() == "model2vec":
        return f"{model} needs sentence-transformers: {EXTRA} (model2vec reads static models only)"
    return None


class Embedder:
    """A loaded model: `encode(texts)` gives one unit vector (float32) per text."""

    def __init__(self, model_id: str, dim: int, encode: Encode) -> None:
        self.model_id = model_id
        self.dim = dim
        self._encode = encode

    @classmethod
    def load(cls, source: str) -> Embedder:
        """The model at `source` (a hub name or a folder, as `model_source` gives it), loaded
        once per process; `NewsletterError` in one line when it cannot be."""
        with _lock:
            if source not in _loaded:
                _loaded[source] = _load(source)
            return _loaded[source]

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit vectors of `texts`, one row each (a text the model makes nothing of: zeros)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: NDArray[np.float32] = np.divide(
            vectors, norms, out=np.zeros_like(vectors), where=norms > 0
        )
        return unit


_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def _load(source: str) -> Embedder:
    library = installed_library()
    if library is None:
        raise NewsletterError(EXTRA_MISSING)
    is_folder = Path(source).is_absolute() or Path(source).exists()
    if is_folder and not Path(source).is_dir():
        raise NewsletterError(f"model {source} cannot be loaded: no such folder")
    loader = _sentence_transformers if library == "sentence_transformers" else _model2vec
    log.info("loading the model %s (%s)", source, library.replace("_", "-"))
    from safetensors import SafetensorError  # the weights' format, which both libraries read

    errors: tuple[type[BaseException], ...] = (*_LOAD_ERRORS, SafetensorError)
    try:
        encode, dim = loader(source)
    except errors as exc:
        raise NewsletterError(_cannot_load(source, library, exc)) from exc
    name = f"{Path(source).name}@{_folder_hash(Path(source))}" if is_folder else source
    return Embedder(f"{library.replace('_', '-')}:{name}", dim, encode)


# what the libraries raise for a model they cannot read: missing or malformed files (OSError,
# ValueError, KeyError, JSON's ValueError), weights of another shape (RuntimeError), the hub
# unreachable or the name unknown (huggingface_hub's errors are OSErrors); and safetensors'
_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError, ImportError,
)  # fmt: skip


def _cannot_load(source: str, library: str, exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if len(reason) > 300:
        reason = reason[:297] + "..."
    message = f"model {source} cannot be loaded: {reason}"
    if library == "model2vec":  # which reads static models alone
        message += f" (model2vec reads static models only; for any other: {EXTRA})"
    return message


def _quiet(library: str) -> None:
    """No progress bars or load reports where nobody watches (cron, a service)."""
    if sys.stderr.isatty():
        return
    hub: Any = importlib.import_module("huggingface_hub.utils")  # typed or not, as installed
    hub.disable_progress_bars()
    if library == "sentence_transformers":
        transformers: Any = importlib.import_module("transformers.utils.logging")
        transformers.set_verbosity_error()
        transformers.disable_progress_bar()


def _sentence_transformers(source: str) -> tuple[Encode, int]:
    _quiet("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source)

    def encode(texts: list[str]) -> Any:
        return model.encode(texts, batch_size=BATCH, show_progress_bar=False,
                            convert_to_numpy=True, normalize_embeddings=True)  # fmt: skip

    named = getattr(model, "get_embedding_dimension", None)  # sentence-transformers 6
    dim = (named or model.get_sentence_embedding_dimension)()
    return encode, int(dim) if dim else int(encode([""]).shape[-1])


def _model2vec(source: str) -> tuple[Encode, int]:
    _quiet("model2vec")
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(source, force_download=False)  # download once

    def encode(texts: list[str]) -> Any:
        return model.encode(texts, use_multiprocessing=False, show_progress_bar=False)

    return encode, int(model.dim)


def _folder_hash(folder: Path) -> str:
    """A hash of every file of a model folder, names and contents (hidden ones aside)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            digest.update(relative.as_posix().encode() + b"\0")
            with path.open("rb") as data:
                for block in iter(lambda: data.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:12]
