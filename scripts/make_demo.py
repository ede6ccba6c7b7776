"""Regenerate the bundled demo day (newsletter/data/demo/) from the papers listed below.

The papers are invented for the demo; the files use the real formats: the rss.arxiv.org RSS 2.0
listing and the Hugging Face /api/daily_papers JSON. Run: python scripts/make_demo.py
"""

from __future__ import annotations

import json
from datetime import datetime, time
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from newsletter.demo import DEMO_DAY

OUT = Path(__file__).resolve().parents[1] / "newsletter" / "data" / "demo"

# id, categories, announce type, title, authors, abstract, (upvotes, ai summary, code) or None
PAPERS = [
    (
        "2607.18201",
        "cs.LG cs.CL",
        "new",
        "Fine-Grained Mixture of Experts Scale Better Than Dense Models at Every Compute Budget",
        "Jakub Krajewski, Maciej Pióro, Ada Nowak, Sebastian Jaszczur",
        "We study scaling laws for fine-grained mixture-of-experts (MoE) language models, varying the "
        "number and size of experts at fixed compute. Increasing expert granularity consistently "
        "lowers loss, and with the optimal granularity MoE models outperform dense Transformers at "
        "every budget we test, from $10^{18}$ to $10^{22}$ FLOPs. We give a joint scaling law in "
        "parameters, tokens and granularity and use it to predict the optimal configuration.",
        (
            142,
            "Smaller, more numerous experts make mixture-of-experts models beat dense models at "
            "every compute budget, with a scaling law that says how fine to go.",
            "https://github.com/example/fine-grained-moe",
        ),
    ),
    (
        "2607.18214",
        "cs.CL",
        "new",
        "Load Balancing Without Auxiliary Losses: Bias-Adjusted Routing for Sparse LLMs",
        "Lin Wei, Hannah Fischer, Tomás Álvarez",
        "Auxiliary load-balancing losses interfere with the language-modelling objective of sparse "
        "mixture-of-experts models. We replace them with a per-expert bias that is updated from the "
        "observed load and never receives gradients. Bias-adjusted routing keeps experts balanced "
        "within 3% and improves perplexity by 0.4 points on a 16B-parameter model.",
        (
            57,
            "Experts stay balanced through a routing bias updated from load statistics, not an "
            "auxiliary loss, and perplexity improves.",
            None,
        ),
    ),
    (
        "2607.18233",
        "cs.LG stat.ML",
        "new",
        "How Many Tokens per Parameter? Revisiting Compute-Optimal Training in 2026",
        "Priya Raman, Oliver Smith",
        "Compute-optimal training recipes suggest about twenty tokens per parameter. We refit "
        "scaling laws on 400 training runs with modern data pipelines and find the optimum has "
        "shifted towards more data. Inference-aware budgets move it further.",
        None,
    ),
    (
        "2607.18240",
        "cs.CV cs.LG",
        "new",
        "Consistency Distillation in One Step: Fast Sampling for Latent Diffusion Models",
        "Mei Tanaka, Lukas Becker, Sofia Rossi",
        "Diffusion models produce high-quality images but need dozens of sampling steps. We distil "
        "a latent diffusion model into a one-step consistency model with an adversarial refinement "
        "loss. On ImageNet $256\\times256$ the student reaches an FID of 2.1 with a single network "
        "evaluation, a $25\\times$ speed-up over the teacher.",
        (
            88,
            "A one-step student distilled from a latent diffusion model matches the teacher's image "
            "quality 25 times faster.",
            "https://github.com/example/one-step-cd",
        ),
    ),
    (
        "2607.18252",
        "cs.CV",
        "new",
        "Video Generation with Flow Matching and Temporal Attention Caching",
        "Carlos Mendes, Yuki Sato",
        "We train a flow-matching video generator whose temporal attention can be cached across "
        "sampling steps. Caching halves the cost of generating a 10-second clip with no measurable "
        "loss of quality in a user study.",
        None,
    ),
    (
        "2607.18267",
        "cs.LG cs.AI",
        "new",
        "Direct Preference Optimization Overfits: A Regularised Objective for Alignment",
        "Grace Okafor, Jun Park, Elena Petrova",
        "Direct preference optimization (DPO) drives the likelihood of both chosen and rejected "
        "answers down when trained for long. We analyse this failure and propose a regularised "
        "objective that keeps the chosen answers likely. It improves win rates against RLHF "
        "baselines on three alignment benchmarks.",
        (
            35,
            "Training DPO for long makes good answers unlikely too; a small regulariser fixes it.",
            None,
        ),
    ),
    (
        "2607.18275",
        "cs.LG",
        "new",
        "Equivariant Message Passing for Molecular Property Prediction at Scale",
        "Amara Diallo, Felix Wagner",
        "We present an E(3)-equivariant graph neural network that scales message passing to "
        "molecules with thousands of atoms using sparse tensor products. It sets a new state of the "
        "art on three molecular property benchmarks.",
        None,
    ),
    (
        "2607.18281",
        "quant-ph cs.LG",
        "cross",
        "Neural Quantum States for Frustrated Magnets with Transformer Wave Functions",
        "Isabel Costa, Marek Nowicki",
        "We represent ground states of frustrated spin systems with a Transformer wave function and "
        "optimise it with variational Monte Carlo. On the $J_1$-$J_2$ model our energies are below "
        "those of the best tensor-network results for lattices up to $16\\times16$.",
        None,
    ),
    (
        "2607.18290",
        "cs.RO cs.LG",
        "new",
        "Sim-to-Real Dexterous Manipulation with Tactile Policies",
        "Ravi Kumar, Anna Schmidt",
        "Dexterous in-hand manipulation policies trained in simulation rarely transfer. We add "
        "tactile sensing in simulation and a learned sensor model, and transfer a reorientation "
        "policy to a real hand with 86% success.",
        None,
    ),
    (
        "2607.18302",
        "cs.CL cs.AI",
        "new",
        "Agents That Write Their Own Tools: Code Generation for Long-Horizon Web Tasks",
        "Noah Williams, Chen Jie, Fatima Zahra",
        "Language model agents fail on long web tasks because they repeat low-level actions. Our "
        "agent writes small programs as reusable tools while it works. On two web benchmarks it "
        "solves 31% more tasks with 40% fewer actions.",
        (
            64,
            "An agent that writes reusable code tools while browsing solves more long web tasks.",
            "https://github.com/example/toolsmith",
        ),
    ),
    (
        "2607.18311",
        "cs.LG cs.CR",
        "new",
        "Federated Learning with Differential Privacy Under Client Drift",
        "Olga Ivanova, Samuel Brown",
        "Client drift and differential privacy noise compound in federated learning on "
        "heterogeneous data. We propose a drift-corrected private aggregation rule with the same "
        "privacy guarantee and show it recovers most of the accuracy lost to noise.",
        None,
    ),
    (
        "2607.18320",
        "stat.ML cs.LG",
        "cross",
        "A Survey of Mixture-of-Experts Architectures",
        "Peter Jones, Maria García",
        "We survey mixture-of-experts architectures from their origins to today's sparse large "
        "language models, covering routing, load balancing, training stability and systems.",
        None,
    ),
    (
        "2607.18333",
        "cs.CL",
        "new",
        "Speculative Decoding with Self-Drafting Heads",
        "Ethan Clark, Sara Lindqvist",
        "We add lightweight drafting heads to a language model so that it drafts its own tokens for "
        "speculative decoding. Without a separate draft model, decoding is 2.3 times faster with "
        "identical outputs.",
        (21, None, None),
    ),
    (
        "2607.18345",
        "cs.LG",
        "new",
        "Time Series Forecasting with Patch Transformers: What Actually Matters",
        "Lucía Fernández, Kwame Asante",
        "Patch-based Transformers dominate long-horizon time series forecasting benchmarks. A "
        "careful ablation shows that patching and instance normalisation explain most of the gains, "
        "and that a linear model with both is competitive.",
        None,
    ),
    (
        "2604.09911",
        "cs.LG",
        "replace",
        "Scaling Laws for Upcycled Mixture of Experts",
        "Jakub Krajewski, Tomasz Odrzygóźdź",
        "We measure how upcycling a dense checkpoint into a mixture of experts changes scaling. "
        "Version 2 adds experiments at 7B parameters.",
        None,
    ),
    (
        "2607.18358",
        "cs.CV",
        "new",
        "Gaussian Splatting for Dynamic Scenes from a Single Video",
        "Hugo Martin, Aiko Suzuki",
        "We reconstruct dynamic scenes from one monocular video with deformable 3D Gaussians and a "
        "motion prior, rendering novel views in real time.",
        (
            49,
            "Deformable 3D Gaussians rebuild a moving scene from one video and render it in real "
            "time.",
            "https://github.com/example/dyn-splat",
        ),
    ),
]

DAY_JSON = DEMO_DAY.isoformat()


def listing() -> str:
    stamp = datetime.combine(DEMO_DAY, time(0), ZoneInfo("America/New_York"))
    items = []
    for paper_id, cats, kind, title, authors, abstract, _ in PAPERS:
        version = 2 if kind == "replace" else 1
        description = f"arXiv:{paper_id}v{version} Announce Type: {kind} \nAbstract: {abstract}"
        categories = "".join(f"<category>{c}</category>" for c in cats.split())
        items.append(f"""    <item>
      <title>{escape(title)}</title>
      <link>https://arxiv.org/abs/{paper_id}</link>
      <description>{escape(description)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{paper_id}v1</guid>
      {categories}
      <arxiv:announce_type>{kind}</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>{escape(authors)}</dc:creator>
    </item>
""")
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
  <channel>
    <title>cs.LG, cs.CL, cs.CV updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG+cs.CL+cs.CV</link>
    <description>cs.LG, cs.CL, cs.CV updates on the arXiv.org e-print archive.</description>
    <atom:link href="https://rss.arxiv.org/rss/cs.LG+cs.CL+cs.CV" rel="self" type="application/rss+xml"/>
    <docs>http://www.rssboard.org/rss-specification</docs>
    <language>en-us</language>
    <lastBuildDate>{format_datetime(stamp)}</lastBuildDate>
    <managingEditor>rss-help@arxiv.org</managingEditor>
    <pubDate>{format_datetime(stamp)}</pubDate>
    <skipDays>
      <day>Saturday</day>
      <day>Sunday</day>
    </skipDays>
{"".join(items)}  </channel>
</rss>
"""


def daily_papers() -> str:
    entries = []
    for paper_id, _, _, title, authors, abstract, hf in PAPERS:
        if hf is None:
            continue
        upvotes, ai_summary, code = hf
        paper = {
            "id": paper_id,
            "authors": [
                {"_id": f"a{n}", "name": name.strip(), "hidden": False}
                for n, name in enumerate(authors.split(","))
            ],
            "mediaUrls": [],
            "publishedAt": f"{DAY_JSON}T17:59:00.000Z",
            "submittedOnDailyAt": f"{DAY_JSON}T20:12:00.000Z",
            "title": title,
            "summary": abstract,
            "upvotes": upvotes,
            "discussionId": f"d{paper_id}",
            "ai_keywords": [],
        }
        if ai_summary:
            paper["ai_summary"] = ai_summary
        if code:
            paper["githubRepo"] = code
        entries.append(
            {
                "paper": paper,
                "publishedAt": paper["publishedAt"],
                "title": title,
                "summary": abstract,
                "numComments": 2,
                "isAuthorParticipating": False,
            }
        )
    return json.dumps(entries, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    (OUT / "listing.xml").write_text(listing(), encoding="utf-8")
    (OUT / "daily_papers.json").write_text(daily_papers(), encoding="utf-8")
