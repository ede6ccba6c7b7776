"""How fast `parse_rss` reads a large arXiv listing in the current RSS 2.0 format.

Generates a 2,000-item feed (abstracts of ~1,200 characters, a third of them with LaTeX, a few
HTML entities), parses it five times and prints the median throughput:

    python benchmarks/parse_speed.py [--items N] [--runs R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from xml.sax.saxutils import escape

from newsletter.sources.arxiv import parse_rss

_WORDS = [
    *("model", "learning", "neural", "training", "data", "language", "agents", "reasoning"),
    *("benchmark", "robust", "sparse", "graph", "policy", "diffusion", "transformer"),
    *("attention", "gradient", "optimization", "inference", "retrieval", "evaluation"),
    *("dataset", "performance", "method", "results", "approach", "framework", "tasks"),
]
_LATEX = (
    r"$\alpha$-stable",
    r"$O(n^2)$ time",
    r"$\kappa = 0.{n}$",
    r"{n}.5\% accuracy",
    r"$x_{{t+{n}}}$",
    r"$\mathbb{{R}}^{n}$",
    r"$p &lt; 0.0{n}$",
    r"\emph{{fast}}",
    r"$\approx {n}\times$",
)


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(10, 22))
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), rng.choice(_LATEX).format(n=rng.randint(1, 99)))
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words)), "Q&amp;A")
    return " ".join(words).capitalize() + "."


def _abstract(rng: random.Random, with_latex: bool) -> str:
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < 1200:
        sentence = _sentence(rng)
        sentences.append(sentence if with_latex else sentence.replace("$", "").replace("\\", ""))
    return " ".join(sentences)


def _item(rng: random.Random, number: int) -> str:
    arxiv_id = f"2605.{10000 + number:05d}"
    kind = rng.choices(["new", "cross", "replace", "replace-cross"], weights=[4, 6, 2, 3])[0]
    categories = rng.sample(["cs.AI", "cs.LG", "cs.CL", "stat.ML", "cs.CV", "math.OC"], k=2)
    authors = ", ".join(f"{rng.choice('ABCDEFG')}. Author{rng.randint(1, 999)}" for _ in range(5))
    title = " ".join(rng.choices(_WORDS, k=8)).title()
    abstract = _abstract(rng, with_latex=number % 3 == 0)
    return f"""    <item>
      <title>{escape(title)}</title>
      <link>https://arxiv.org/abs/{arxiv_id}</link>
      <description>arXiv:{arxiv_id}v1 Announce Type: {kind} \nAbstract: {abstract}</description>
      <guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>
      {"".join(f"<category>{category}</category>" for category in categories)}
      <pubDate>Mon, 04 May 2026 00:00:00 -0400</pubDate>
      <arxiv:announce_type>{kind}</arxiv:announce_type>
      <dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>
      <dc:creator>{escape(authors)}</dc:creator>
    </item>
"""


def generate_feed(items: int, seed: int = 2026) -> bytes:
    """A synthetic rss.arxiv.org listing with `items` items."""
    rng = random.Random(seed)
    body = "".join(_item(rng, number) for number in range(items))
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title>cs.AI updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.AI</link>
    <description>cs.AI updates on the arXiv.org e-print archive.</description>
    <pubDate>Mon, 04 May 2026 00:00:00 -0400</pubDate>
{body}  </channel>
</rss>
""".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = generate_feed(args.items)
    timings: list[float] = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = parse_rss(data, source="bench", include_replacements=True)
        timings.append(time.perf_counter() - start)
    assert len(result.papers) == args.items, len(result.papers)
    median = statistics.median(timings)
    size = len(data) / 1e6
    print(f"{args.items} items, {size:.1f} MB, median of {args.runs} runs: {median:.2f} s")
    print(f"{args.items / median:,.0f} items/s")


if __name__ == "__main__":
    main()
