"""Abbreviations: Schwartz & Hearst's definitions, the curated list, the day's glossary, and
`LLM`, `LLMs` and `large language model(s)` matching each other in keywords and similarity."""

from __future__ import annotations

import time
from datetime import date

import pytest

from newsletter.abbreviations import (
    Definition,
    Glossary,
    best_long_form,
    curated,
    definitions,
    forms,
)
from newsletter.matching import PaperIndex
from newsletter.models import Paper, Profile
from newsletter.select import select

DAY = date(2026, 7, 27)
RLHF = "reinforcement learning from human feedback"


def paper(pid: str, title: str, abstract: str = "") -> Paper:
    return Paper(id=pid, title=title, abstract=abstract)


def pairs(text: str) -> list[tuple[str, str]]:
    return [(d.short, d.long) for d in definitions(text)]


# ---------------------------------------------------------------------------- Schwartz & Hearst


@pytest.mark.parametrize(
    ("short", "candidate", "long"),
    [  # the paper's running example, and the classic test sentences of its implementations
        ("HSTF", "the heat shock transcription factor", "heat shock transcription factor"),
        ("ER", "The endoplasmic reticulum", "endoplasmic reticulum"),
        (
            "WASP",
            "of mammalian Wiskott-Aldrich syndrome protein",
            "Wiskott-Aldrich syndrome protein",
        ),
        ("WIP", "and Vrp1p, a homolog of WASP-interacting protein", "WASP-interacting protein"),
        ("RLHF", "with reinforcement learning from human feedback", RLHF),
    ],
)
def test_the_best_long_form_matches_letters_from_the_right(
    short: str, candidate: str, long: str
) -> None:
    assert best_long_form(short, candidate) == long


def test_the_first_letter_must_start_a_word_and_every_letter_must_be_found() -> None:
    assert best_long_form("XYZ", "heat shock factor") is None
    # `s` is in `proteins`, but the short form's first letter must begin a word
    assert best_long_form("SP", "proteins") is None
    assert best_long_form("HSF", "of the heat shock factor") == "heat shock factor"


def test_definitions_in_either_order_and_with_plurals() -> None:
    assert pairs("HSF (heat shock factor) binds DNA.") == [("HSF", "heat shock factor")]
    assert pairs("We study large language models (LLMs) at scale.") == [
        ("LLM", "large language models")
    ]
    text = "Retrieval-augmented generation (RAG, a family of methods) helps; so does MoE."
    assert pairs(text) == [("RAG", "Retrieval-augmented generation")]


def test_what_is_not_a_definition_is_left_out() -> None:
    assert pairs("As shown before (see Section 2), it works (Table 1).") == []
    assert pairs("We use a transformer (TF) here.") == []  # `TF` is not in `transformer`
    assert pairs("We train large language models (LLM") == []  # never closed
    assert pairs("It is a good (GOOD) idea.") == []  # a long form must be longer than two words
    assert pairs("(ABC)") == [] and pairs(")(") == [] and pairs("") == []


def test_nested_parentheses() -> None:
    text = "A sparse layer (the mixture of experts (MoE (sparse)) layer) routes tokens."
    assert pairs(text) == [("MoE", "mixture of experts")]
    assert pairs("((((((((LLM))))))))") == []


def test_unicode_text() -> None:
    text = "Schrödinger–Bridge Matching (SBM) and 量子计算 (QC) and Réseaux Neuronaux (RN)."
    assert pairs(text) == [("SBM", "Schrödinger–Bridge Matching"), ("RN", "Réseaux Neuronaux")]
    assert definitions(text)[0].tokens == ("schrodinger", "bridge", "matching")


def test_very_long_hostile_text_costs_time_in_proportion() -> None:
    hostile = "word (" * 20_000 + "x" * 200_000 + ")" * 20_000 + " large language models (LLMs)"
    started = time.perf_counter()
    found = pairs(hostile)
    assert time.perf_counter() - started < 2.0
    assert found == [("LLM", "large language models")]


# ---------------------------------------------------------------------------- the glossary


def test_the_curated_list_covers_the_fields_common_short_forms() -> None:
    shorts = {d.short for d in curated()}
    assert {"LLM", "VLM", "MLLM", "RAG", "RL", "RLHF", "MoE", "ViT", "GNN", "KG", "CoT"} <= shorts
    assert all(d.short[0].isalnum() and len(d.tokens) >= 2 for d in curated())


def test_a_short_form_means_what_the_day_mostly_defines() -> None:
    glossary = Glossary.learn([])
    assert glossary.meaning("LLM") == ("large", "language", "model")
    assert glossary.meaning("ANN") is None  # two curated long forms: the day must say
    approximate = [Definition("ANN", "approximate nearest neighbour")]
    day = Glossary.learn([approximate, approximate, approximate])
    assert day.meaning("ANN") == ("approximate", "nearest", "neighbor")
    artificial = {"ANN": ("artificial", "neural", "network")}
    assert day.meaning("ANN", artificial) == ("artificial", "neural", "network")  # its own


def test_text_is_written_out_for_similarity() -> None:
    glossary = Glossary.learn([])
    assert glossary.expand("We train LLMs and VLMs.") == (
        "We train large language model and vision language model."
    )
    written = "ANN and retrieval augmented generation and rag"
    assert glossary.expand("ANN and RAGs and rag") == written


def test_other_ways_to_write_a_phrase() -> None:
    glossary = Glossary.learn([])
    means, others = forms("LLM agents", glossary)
    assert means == (("LLM", ("large", "language", "model")),)
    assert [f.written for f in others] == ["large language model agents"]
    assert "LLM agents" in [f.written for f in forms("large language model agents", glossary)[1]]
    assert [f.written for f in forms("RAG", glossary)[1]] == ["retrieval-augmented generation"]
    assert forms("ANN", glossary) == ((), [])  # ambiguous: only as written


# ---------------------------------------------------------------------------- matching


def test_short_and_long_forms_match_each_other_in_keywords() -> None:
    papers = [
        paper("1", "Tool use", "We build large language model agents that call tools."),
        paper("2", "Planning with LLMs", "LLM agents plan; large language models reason."),
        paper("3", "Rag dolls", "We leverage rag textures, not RAG."),
        paper("4", "Retrieval-augmented generation for QA", "Grounded answers."),
    ]
    index = PaperIndex(papers)
    assert index.keyword("LLM agents").body == {0, 1}
    assert index.keyword("LLM agents").body_forms == {0: "large language model agents"}
    assert index.keyword("large language models").body == {0, 1}
    assert index.keyword("large language models").title == {1}  # `LLMs` in the title
    assert index.keyword("RAG").title == {3}  # written out, in the title
    assert index.keyword("RAG").body == {2}  # in capitals only: not `rag`, not `leverage`


def test_an_ambiguous_short_form_keeps_each_papers_own_meaning() -> None:
    search = "Approximate nearest neighbour (ANN) search over vectors; ANN indexes are fast."
    papers = [
        paper("1", "Vector search", search),
        paper("2", "Graph indexes", "Approximate nearest neighbor (ANN) graphs; ANN recall."),
        paper("3", "Faster vector search", "We speed up approximate nearest neighbor search."),
        paper("4", "Spiking nets", "Artificial neural networks (ANN) are converted; the ANN."),
        paper("5", "Billion-scale search", "Approximate nearest neighbor (ANN) on disk."),
    ]
    found = PaperIndex(papers).keyword("ANN")
    assert found.body == {0, 1, 2, 4}  # the day reads ANN as the search; paper 4 has its own
    assert found.body_forms == {2: "approximate nearest neighbor"}  # the glossary's spelling
    undecided = PaperIndex(papers[:4]).keyword("ANN")  # 3 of 5 definitions: not enough
    assert undecided.body == {0, 1, 3}  # as written only, wherever it is


def test_reasons_name_what_matched() -> None:
    papers = [
        paper(
            "1",
            "Tool use in the wild",
            "Large language model agents call tools to solve tasks. We study failures.",
        ),
        paper("2", "Protein folding", "We predict protein structures from sequences."),
    ]
    (selection,) = select(papers, [Profile("a@x.org", keywords=("LLM agents",))], DAY)
    assert [p.paper.id for p in selection.papers] == ["1"]
    reasons = selection.papers[0].reasons
    assert reasons[0] == 'keyword "LLM agents" as "large language model agents" in abstract'


def test_similarity_reads_short_forms_written_out() -> None:
    papers = [
        paper("1", "Scaling LLMs", "We train LLMs on more tokens and measure their loss."),
        paper("2", "Protein folding", "We predict protein structures from sequences."),
    ]
    profile = Profile("a@x.org", description="how large language models scale with data")
    (selection,) = select(papers, [profile], DAY)
    assert [p.paper.id for p in selection.papers] == ["1"]
    assert selection.papers[0].reasons[0].startswith("matches your description")


# ---------------------------------------------------------------------- short forms in context

JAILBREAK = paper(
    "9",
    "Stylistic triggers for VLM jailbreaks",
    "Our attack raises the ASR of existing jailbreak attacks against multimodal models.",
)
SPEECH = paper("8", "Accented speech", "ASR errors on accented speech drop with adaptation.")


def test_a_paper_that_uses_a_short_form_in_another_sense_is_not_a_match() -> None:
    """`ASR` is automatic speech recognition to the field, but a paper about attacks that
    uses it undefined means attack success rate: it is not found for the keyword, nor written
    out as speech recognition for similarity; a paper about speech still is."""
    index = PaperIndex([JAILBREAK, SPEECH, paper("7", "Robots", "Grasping objects.")])
    assert index.keyword("ASR").body == {1}
    glossary = Glossary.learn([])
    assert glossary.meaning("ASR") == ("automatic", "speech", "recognition")  # the day's
    assert "attack success rate" in glossary.expand(JAILBREAK.abstract)
    assert "automatic speech recognition" in glossary.expand(SPEECH.abstract)
    (selection,) = select([JAILBREAK, SPEECH], [Profile("a@x.org", keywords=("ASR",))], DAY)
    assert [p.paper.id for p in selection.papers] == ["8"]


def test_a_reader_reads_an_ambiguous_short_form_by_their_other_words() -> None:
    """`TTS` is text-to-speech to a reader of speech and test-time scaling to a reader of
    reasoning: each finds the papers of their meaning, written out or used undefined, and
    not the other's; a day that mostly means another thing does not change that."""
    scaling = paper("1", "Reasoning longer", "Test-time scaling lets models think longer; TTS.")
    voices = paper("2", "Expressive voices", "Text-to-speech with prosody control for voices.")
    undefined = paper("3", "Budget forcing", "TTS for reasoning: more samples at test time.")
    papers = [scaling, voices, undefined]
    index = PaperIndex(papers)
    glossary = index.glossary
    assert glossary.meaning("TTS") is None  # two curated meanings: the day does not say
    speech = glossary.read_by("TTS, speech synthesis, voice cloning")
    reasoning = glossary.read_by("TTS, reasoning, test-time compute")
    assert speech.meaning("TTS") == ("text", "to", "speech")
    assert reasoning.meaning("TTS") == ("test", "time", "scaling")
    assert glossary.read_by("TTS") is glossary  # nothing to tell by
    found = index.keyword("TTS", speech)
    assert found.title | found.body == {1}
    found = index.keyword("TTS", reasoning)
    assert found.title | found.body == {0, 2}
    readers = [
        Profile("s@x.org", keywords=("TTS", "speech synthesis")),
        Profile("r@x.org", keywords=("TTS", "reasoning")),
    ]
    for_speech, for_reasoning = select(papers, readers, DAY)
    assert {p.paper.id for p in for_speech.papers} == {"2"}
    assert {"1", "3"} <= {p.paper.id for p in for_reasoning.papers}
    assert "2" not in {p.paper.id for p in for_reasoning.papers}
    attacks = [Definition("ASR", "attack success rate")] * 3
    day = Glossary.learn([attacks, attacks])  # the day mostly means attack success rate
    assert day.meaning("ASR") == ("attack", "success", "rate")
    assert day.read_by("ASR, speech").meaning("ASR") == ("automatic", "speech", "recognition")


def test_what_a_reader_reads_their_own_way_never_leaks_to_another() -> None:
    """`text-to-speech` is also `TTS` to a reader of speech, not to a reader who did not say
    so; which of them is looked up first changes nothing."""
    papers = [
        paper("1", "Expressive TTS", "TTS voices with prosody control for speech synthesis."),
        paper("2", "Text-to-speech", "Text-to-speech for low-resource languages."),
    ]
    speech = Profile("s@x.org", keywords=("TTS", "text-to-speech"))
    plain = Profile("p@x.org", keywords=("text-to-speech",))
    first = select(papers, [speech, plain], DAY)
    second = select(papers, [plain, speech], DAY)
    assert {p.paper.id for p in first[0].papers} == {"1", "2"}
    assert [p.paper.id for p in first[1].papers] == [p.paper.id for p in second[0].papers]
    assert [p.paper.id for p in first[0].papers] == [p.paper.id for p in second[1].papers]
    index = PaperIndex(papers)
    reading = index.glossary.read_by("TTS, text-to-speech")
    assert index.keyword("text-to-speech", reading).title == {0, 1}
    assert index.keyword("text-to-speech").title == {1}  # TTS alone means nothing to the day
