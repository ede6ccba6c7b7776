"""The data of the end-to-end benchmark: one day's arXiv listing and a large subscribers.yaml.

Writes, with a fixed seed, into a folder:

- `listing.xml`: an rss.arxiv.org listing (RSS 2.0, the current format) of P papers dated
  DAY, abstracts of 150-250 words (a third with LaTeX), 3-8 authors, 1-3 categories, announce
  types `new` and `cross`;
- `subscribers.yaml`: N subscribers in the project's config format, each with 5-30 keywords
  and some authors, categories, a description or `exclude`; `max_papers` 10-30 so that issues
  average about 20 papers; a few readers whose interests match nothing (they get no issue);
  the arXiv source reads `listing.xml`, the smtp block sends to 127.0.0.1:PORT with
  `security: none` and no login, the state database is `newsletter.db` in the same folder.

Only the port differs between two folders written with the same sizes.

    python benchmarks/pipeline_data.py OUT [--subscribers 10000] [--papers 2000] [--quick]
        [--port 8025]
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import FIRST, LAST

DAY = date(2026, 7, 27)  # a Monday: arXiv announces a listing dated this day
SEED = 2026
DEFAULT_SUBSCRIBERS, DEFAULT_PAPERS = 10_000, 2_000
QUICK_SUBSCRIBERS, QUICK_PAPERS = 200, 200
LISTING, CONFIG, STATE = "listing.xml", "subscribers.yaml", "newsletter.db"
SENDER = "Paper Digest <digest@example.org>"
NO_MATCH_EVERY = 37  # one reader in this many asks for topics no paper of the day is about

# Each topic: its arXiv categories (most likely first) and the phrases its papers are made of.
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "moe": (("cs.LG", "cs.CL"), (
        "mixture of experts", "expert routing", "load balancing", "sparse models", "gating",
        "token dropping", "expert capacity", "conditional computation", "scaling laws", "MoE",
    )),
    "diffusion": (("cs.CV", "cs.LG"), (
        "diffusion model", "denoising", "score matching", "classifier-free guidance",
        "latent diffusion", "video generation", "image synthesis", "sampling steps",
        "consistency models", "text-to-image",
    )),
    "rl": (("cs.LG", "cs.AI"), (
        "reinforcement learning", "policy gradient", "reward shaping", "exploration",
        "offline reinforcement learning", "value function", "model-based planning",
        "multi-agent", "sample efficiency", "actor-critic",
    )),
    "graphs": (("cs.LG", "stat.ML"), (
        "graph neural network", "message passing", "molecular property prediction",
        "equivariant networks", "link prediction", "node classification", "oversmoothing",
        "graph transformer", "heterophily", "knowledge graph",
    )),
    "speech": (("eess.AS", "cs.CL"), (
        "speech recognition", "text-to-speech", "speaker verification", "audio tokenizer",
        "spoken language understanding", "self-supervised speech", "wav2vec", "voice conversion",
        "acoustic model", "low-resource speech",
    )),
    "robotics": (("cs.RO", "cs.LG"), (
        "robot manipulation", "grasping", "sim-to-real", "tactile sensing", "legged locomotion",
        "imitation learning", "visuomotor policy", "dexterous hands", "motion planning",
        "vision-language-action",
    )),
    "privacy": (("cs.CR", "cs.LG"), (
        "federated learning", "differential privacy", "secure aggregation",
        "membership inference", "client drift", "privacy accounting", "data poisoning",
        "machine unlearning", "homomorphic encryption", "heterogeneous clients",
    )),
    "vision3d": (("cs.CV", "cs.GR"), (
        "gaussian splatting", "neural radiance field", "3D reconstruction", "novel view synthesis",
        "depth estimation", "point cloud", "scene understanding", "SLAM", "mesh recovery",
        "multi-view stereo",
    )),
    "timeseries": (("cs.LG", "stat.ML"), (
        "time series forecasting", "anomaly detection", "temporal convolution",
        "long-horizon forecasting", "seasonality", "irregular sampling", "state space models",
        "probabilistic forecasting", "foundation model for time series", "multivariate series",
    )),
    "quantum": (("quant-ph", "cs.LG"), (
        "variational quantum circuit", "quantum machine learning", "barren plateaus",
        "neural quantum states", "qubit", "quantum error correction", "hamiltonian learning",
        "entanglement", "quantum kernel", "noisy intermediate-scale quantum",
    )),
    "agents": (("cs.CL", "cs.AI"), (
        "language model agents", "tool use", "code generation", "web navigation",
        "planning with language models", "retrieval-augmented generation",
        "speculative decoding", "long context", "chain of thought", "agent benchmark",
    )),
    "alignment": (("cs.CL", "cs.LG"), (
        "preference optimization", "reinforcement learning from human feedback",
        "reward model", "direct preference optimization", "red teaming", "jailbreak",
        "constitutional AI", "reward hacking", "safety evaluation", "interpretability",
    )),
}  # fmt: skip
NO_MATCH_TOPICS = (
    "protein folding", "topological insulators", "dark matter halos", "gravitational waves",
    "superconductivity", "coral reef ecology", "exoplanet atmospheres",
)  # fmt: skip
NO_MATCH_CATEGORIES = ("astro-ph.GA", "cond-mat.supr-con", "q-bio.BM", "econ.GN")
GENERIC = (
    "we", "propose", "a", "novel", "method", "that", "improves", "the", "results", "on",
    "standard", "benchmarks", "while", "reducing", "cost", "our", "experiments", "show",
    "consistent", "gains", "across", "datasets", "and", "ablations", "confirm", "each",
    "component", "approach", "is", "simple", "scalable", "theoretically", "grounded", "with",
    "strong", "empirical", "evidence", "framework", "training", "inference", "evaluation",
    "performance", "robust", "efficient", "analysis", "large", "models", "learning", "data",
    "tasks", "outperforms", "baselines", "by", "margin", "under", "realistic", "settings",
)  # fmt: skip
BROAD_WORDS = frozenset({"benchmark", "generation", "language", "learning", "networks", "models"})
LATEX = (
    r"$O(n^2)$", r"$\alpha$-stable", r"$p < 0.05$", r"$\mathbb{R}^d$", r"$x_{t+1}$",
    r"$\epsilon$-greedy", r"$10\times$", r"\emph{fast}", r"$\kappa = 0.3$",
)  # fmt: skip
MORE_FIRST = (
    "Hannah", "Mateo", "Ingrid", "Chidi", "Sofía", "Priya", "Tomasz", "Léa", "Hiroshi", "Amara",
    "Nikolai", "Fatima", "Björn", "Mei", "Rafael", "Ayşe", "Daniel", "Elena", "Kofi", "Sara",
    "Pavel", "Ines", "Jun", "Noor", "Gustavo", "Anika", "Tariq", "Chloé", "Ravi",
)  # fmt: skip
MORE_LAST = (
    "Nakamura", "Okafor", "Lindqvist", "Kowalski", "García", "Sharma", "Novak", "Dubois",
    "Kim", "Haddad", "Petrov", "Nguyen", "Schmidt", "Costa", "Yilmaz", "O'Brien", "Mensah",
    "Ivanova", "Fischer", "Silva", "Zhang", "Andersson", "Moreau", "Gupta", "Hoffmann",
    "Takahashi", "Rahman", "Bianchi", "Kuznetsov", "Eriksen", "Wójcik", "Popescu",
)  # fmt: skip
FIRST_NAMES = (*FIRST, *MORE_FIRST)
LAST_NAMES = (*LAST, *MORE_LAST)


@dataclass(frozen=True)
class DataSet:
    """Where one benchmark day was written, and its sizes."""

    folder: Path
    subscribers: int
    papers: int
    port: int
    day: date = DAY

    @property
    def config(self) -> Path:
        return self.folder / CONFIG

    @property
    def listing(self) -> Path:
        return self.folder / LISTING

    @property
    def state(self) -> Path:
        return self.folder / STATE


def write(folder: Path, *, subscribers: int, papers: int, port: int, seed: int = SEED) -> DataSet:
    """Write the listing and the config of one benchmark day into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = DataSet(folder, subscribers, papers, port)
    data.listing.write_bytes(listing(papers, seed))
    data.config.write_text(config_text(subscribers, port, seed), encoding="utf-8")
    return data


# ---------------------------------------------------------------------------- the listing


def author_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _sentence(rng: random.Random, phrases: tuple[str, ...], with_latex: bool) -> str:
    words = [rng.choice(GENERIC) for _ in range(rng.randint(9, 20))]
    for _ in range(rng.choice((0, 1, 1, 2))):
        words.insert(rng.randrange(len(words) + 1), rng.choice(phrases))
    if with_latex and rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(LATEX))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def abstract(rng: random.Random, phrases: tuple[str, ...], with_latex: bool) -> str:
    """150-250 words, a few of them the topic's phrases."""
    target = rng.randint(150, 250)
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < target:
        sentences.append(_sentence(rng, phrases, with_latex))
    return " ".join(sentences)


def title(rng: random.Random, phrases: tuple[str, ...]) -> str:
    head = rng.choice(phrases)
    tail = " ".join(rng.choice(GENERIC) for _ in range(rng.randint(3, 8)))
    text = f"{head}: {tail}" if rng.random() < 0.5 else f"{tail} for {head}"
    return text[0].upper() + text[1:]


def _item(rng: random.Random, number: int, seed_topic: str) -> str:
    arxiv_id = f"{DAY:%y%m}.{10000 + number:05d}"
    categories_of_topic, phrases = TOPICS[seed_topic]
    kind = rng.choices(["new", "cross"], weights=[3, 2])[0]
    categories = list(categories_of_topic[: rng.randint(1, 2)])
    if rng.random() < 0.3:
        extra = rng.choice(("cs.AI", "stat.ML", "cs.LG", "cs.CL"))
        categories += [extra] if extra not in categories else []
    if kind == "cross":
        categories = categories[1:] + categories[:1]
    authors = ", ".join(author_name(rng) for _ in range(rng.randint(3, 8)))
    text = abstract(rng, phrases, with_latex=number % 3 == 0)
    return f"""    <item>
      <title>{escape(title(rng, phrases))}</title>
      <link>https://arxiv.org/abs/{arxiv_id}</link>
      <description>arXiv:{arxiv_id}v1 Announce Type: {kind} \nAbstract: {escape(text)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>
      {"".join(f"<category>{category}</category>" for category in categories)}
      <pubDate>{DAY:%a, %d %b %Y} 00:00:00 -0400</pubDate>
      <arxiv:announce_type>{kind}</arxiv:announce_type>
      <dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>
      <dc:creator>{escape(authors)}</dc:creator>
    </item>
"""


def listing(papers: int, seed: int = SEED) -> bytes:
    """An rss.arxiv.org listing of `papers` items dated DAY."""
    rng = random.Random(seed)
    names = list(TOPICS)
    body = "".join(_item(rng, n, rng.choice(names)) for n in range(papers))
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title>cs.LG+cs.CL+cs.CV updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG+cs.CL+cs.CV</link>
    <description>cs.LG+cs.CL+cs.CV updates on the arXiv.org e-print archive.</description>
    <pubDate>{DAY:%a, %d %b %Y} 00:00:00 -0400</pubDate>
{body}  </channel>
</rss>
""".encode()


# ---------------------------------------------------------------------------- the readers


def _interests(rng: random.Random) -> dict[str, Any]:
    topics = rng.sample(list(TOPICS), rng.choice((1, 1, 2, 2, 3)))
    pool = [phrase for topic in topics for phrase in TOPICS[topic][1]]
    pool += sorted({w for p in pool for w in p.split() if len(w) > 7 and w not in BROAD_WORDS})
    interests: dict[str, Any] = {"keywords": rng.sample(pool, min(rng.randint(5, 30), len(pool)))}
    if rng.random() < 0.3:
        interests["authors"] = [author_name(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        interests["categories"] = sorted({TOPICS[t][0][0] for t in topics})
    if rng.random() < 0.15:
        interests["exclude"] = ["survey"]
    if rng.random() < 0.5:
        picks = rng.sample(pool, 3)
        interests["description"] = f"Papers on {picks[0]}, {picks[1]} and {picks[2]}."
    return interests


def _no_match_interests(rng: random.Random) -> dict[str, Any]:
    return {
        "keywords": rng.sample(NO_MATCH_TOPICS, rng.randint(2, 4)),
        "categories": [rng.choice(NO_MATCH_CATEGORIES)],
    }


def subscriber(rng: random.Random, number: int) -> dict[str, Any]:
    """One reader as written in subscribers.yaml."""
    entry: dict[str, Any] = {"email": f"reader{number:05d}@example.org"}
    if rng.random() < 0.9:
        entry["name"] = author_name(rng)
    no_match = number % NO_MATCH_EVERY == NO_MATCH_EVERY - 1
    entry["interests"] = _no_match_interests(rng) if no_match else _interests(rng)
    entry["max_papers"] = rng.randint(10, 30)
    return entry


def config_text(subscribers: int, port: int, seed: int = SEED) -> str:
    """subscribers.yaml: the newsletter block (local listing, local SMTP) and the readers."""
    rng = random.Random(seed + 1)
    newsletter = {
        "title": "Paper Digest",
        "sender": SENDER,
        "sources": [
            {"type": "arxiv", "categories": ["cs.LG", "cs.CL", "cs.CV"], "url": LISTING},
        ],
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 60},
        "state": STATE,
    }
    document = {
        "newsletter": newsletter,
        "subscribers": [subscriber(rng, n) for n in range(subscribers)],
    }
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    head = f"# The end-to-end benchmark's day ({DAY}): {subscribers} subscribers.\n"
    body = yaml.dump(document, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100)
    return head + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to write")
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--papers", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="200 subscribers, 200 papers")
    parser.add_argument("--port", type=int, default=8025, help="the SMTP server's port")
    args = parser.parse_args()
    subscribers = args.subscribers or (QUICK_SUBSCRIBERS if args.quick else DEFAULT_SUBSCRIBERS)
    papers = args.papers or (QUICK_PAPERS if args.quick else DEFAULT_PAPERS)
    data = write(args.out, subscribers=subscribers, papers=papers, port=args.port)
    print(f"wrote {data.listing} ({papers} papers) and {data.config} ({subscribers} subscribers)")


if __name__ == "__main__":
    main()
