"""Hostile numbers in feeds: an upvote count of 10^30, a 5,000-digit integer, negative or
boolean counts, absurd versions and dates. They are checked and clamped when read, a paper
already stored with a huge number (by an older release) is clamped when read back, and
selection never sees a number it cannot hold."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from newsletter.config import load_config
from newsletter.errors import FeedParseError
from newsletter.fetching import FetchStatus, fetch_day
from newsletter.models import MAX_COUNT, Paper, PaperExtras, Profile, as_count
from newsletter.select import select
from newsletter.sources._feedparse import parse_datetime
from newsletter.sources.arxiv import parse_arxiv_id
from newsletter.sources.http import Fetcher
from newsletter.sources.huggingface import parse_daily_papers
from newsletter.store import Store
from tests.feeds import MONDAY, hf_source, write_sources

SUNDAY = "2026-07-26"
HUGE = "9" * 5000  # past Python's 4,300-digit limit for int(str)


def hf_item(paper_id: str, title: str = "A paper", **numbers: str) -> str:
    """One Daily Papers item; numbers are written into the JSON as given (any literal)."""
    fields = {"upvotes": numbers.get("upvotes", "1"), "githubStars": numbers.get("stars", "null")}
    paper = (
        f'{{"id": "{paper_id}", "title": "{title}", "publishedAt": "{SUNDAY}T10:00:00.000Z",'
        f' "authors": [{{"name": "Ada Lovelace"}}], "summary": "Things.",'
        f' "upvotes": {fields["upvotes"]}, "githubStars": {fields["githubStars"]}}}'
    )
    return f'{{"paper": {paper}, "numComments": {numbers.get("comments", "0")}}}'


def hf_document(*items: str) -> bytes:
    return ("[" + ", ".join(items) + "]").encode()


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("10" + "0" * 30, MAX_COUNT),  # 10^30
        (HUGE, MAX_COUNT),  # json.loads alone raises ValueError here
        ("-" + HUGE, None),
        ("1e400", MAX_COUNT),  # json reads it as infinity
        ("-1e400", None),
        ("NaN", None),
        ("Infinity", MAX_COUNT),
        ("2147483648", MAX_COUNT),
        ("2147483647", MAX_COUNT),
        ("-3", None),
        ("true", None),
        ("3.0", 3),
        ("3.5", None),
        ('"42"', 42),
        ('"forty"', None),
        ("[1]", None),
        ("57", 57),
    ],
)
def test_counts_are_clamped_or_left_out_and_the_paper_kept(
    literal: str, expected: int | None
) -> None:
    document = hf_document(
        hf_item("2607.00001", upvotes=literal, stars=literal, comments=literal),
        hf_item("2607.00002", "The other paper"),
    )
    result = parse_daily_papers(document, source="hf")
    first, second = result.papers
    assert (first.extras.upvotes, first.extras.github_stars, first.extras.num_comments) == (
        expected,
        expected,
        expected,
    )
    assert second.extras.upvotes == 1 and result.skipped == []


def test_an_absurd_version_skips_its_item_with_a_reason() -> None:
    document = hf_document(hf_item("2607.00001v" + "9" * 5000), hf_item("2607.00002v99999999999"),
                           hf_item("2607.00003v2"))  # fmt: skip
    result = parse_daily_papers(document, source="hf")
    assert [(p.id, p.version) for p in result.papers] == [("2607.00003", 2)]
    assert len(result.skipped) == 2
    assert all("not an arXiv id" in item.reason for item in result.skipped)
    assert parse_arxiv_id("2401.01234v123456") == ("2401.01234", 123456)
    assert parse_arxiv_id("2401.01234v1234567") is None


@pytest.mark.parametrize(
    "data",
    [b"[1, 2", b"[" * 100_000, b'{"error": "rate limited"}', b"[" + HUGE.encode() + b"e"],
)
def test_a_body_json_cannot_read_fails_the_source_with_a_reason(data: bytes) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse_daily_papers(data, source="hf")
    assert "\n" not in caught.value.reason


def test_the_model_clamps_huge_numbers_and_refuses_what_is_not_a_count() -> None:
    paper = Paper(id="x", title="t", version=10**30, extras=PaperExtras(upvotes=10**30))
    assert paper.version == MAX_COUNT and paper.extras.upvotes == MAX_COUNT
    for bad in (-1, True, 2.5, math.nan, "many", [3]):
        with pytest.raises(ValidationError):
            PaperExtras(upvotes=bad)
    assert as_count(None) is None and as_count(7.0) == 7 and as_count(" 12 ") == 12
    assert as_count(math.inf) == MAX_COUNT


def test_a_stored_paper_with_a_huge_number_is_clamped_when_read_back(tmp_path: Path) -> None:
    """The store of an older release may hold 10^30 upvotes: selection must still run."""
    papers = [
        Paper(id="2607.00001", title="Mixture of experts", extras=PaperExtras(upvotes=5)),
        Paper(id="2607.00002", title="Experts mixing", extras=PaperExtras(upvotes=7)),
    ]
    with Store(tmp_path / "state.db") as store:
        store.save_day(MONDAY, "hf", papers)
    old = json.loads(papers[0].model_dump_json())
    old["version"] = 10**40
    old["extras"].update(upvotes=10**30, github_stars=10**25, num_comments=10**20)
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("UPDATE papers SET data = ? WHERE id = ?", (json.dumps(old), "2607.00001"))
    with Store(tmp_path / "state.db") as store:
        stored = store.papers_for_day(MONDAY)
    assert stored[0].extras.upvotes == MAX_COUNT and stored[0].version == MAX_COUNT
    (selection,) = select(stored, [Profile("ada@example.org", keywords=("experts",))], MONDAY)
    assert [s.paper.id for s in selection.papers] == ["2607.00001", "2607.00002"]


def test_a_huge_count_fetched_is_stored_clamped_and_selection_runs(tmp_path: Path) -> None:
    listing = tmp_path / f"{SUNDAY}.json"
    listing.write_bytes(
        hf_document(
            hf_item("2607.00001", "Mixture of experts", upvotes="1" + "0" * 30),
            hf_item("2607.00002", "Experts mixing", upvotes=HUGE),
            hf_item("2607.00003", "More experts", upvotes="12"),
        )
    )
    config = load_config(write_sources(tmp_path, hf_source("{date}.json", "hf")))
    with Store(tmp_path / "state.db") as store:
        report = fetch_day(config, MONDAY, store, Fetcher(None))  # type: ignore[arg-type]
        stored = store.papers_for_day(MONDAY)
    assert report.outcomes[0].status is FetchStatus.OK, report.outcomes[0].detail
    assert [p.extras.upvotes for p in stored] == [MAX_COUNT, MAX_COUNT, 12]
    (selection,) = select(stored, [Profile("ada@example.org", keywords=("experts",))], MONDAY)
    assert len(selection.papers) == 3


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 27 Jul 2026 04:00:02 +9999999999999999999999",
        "Mon, 27 Jul 99999 04:00:02 +0000",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-07-27T00:00:00+" + "9" * 5000,
    ],
)
def test_absurd_dates_are_no_date(value: str) -> None:
    assert parse_datetime(value) is None
