"""Loading a config the fast way gives what the careful way gives: the same data (types
included) or the same problems at the same lines, for any document; and a common file takes
the fast way. The careful way is forced by making `_plain_data` find every document unusual."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter import yamlfile
from newsletter.config import Config, load_config
from newsletter.errors import ConfigError
from tests.conftest import MINIMAL
from tests.test_hostile_config import HOSTILE_FILES

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import pipeline_data  # noqa: E402

SCALARS = [
    "text", "'quoted'", '"dq \\u00e9"', "07:30", "8:30", "2502.10000", "2502.1", "2026-12-25",
    "2026-13-45", "yes", "no", "on", "Off", "~", "null", "12", "0x1f", "1_000", "3.5", ".inf",
    "-.nan", "1e3", "!!str 12", "!!int abc", "!!bool maybe", "!!float 1", "!!binary aGk=",
    "!custom x", "'a: b'", "a # comment", "|\n  block\n", "é ü 中",
]  # fmt: skip
KEYS = ["a", "b", "email", "1", "'1'", "01", "true", "null", "~", "<<", "=", "07:30", "? [x]"]


def strict(value: Any) -> Any:
    """`value` with every type spelt out: 1, 1.0 and True are not equal here."""
    if isinstance(value, dict):
        return ("dict", [(strict(k), strict(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [strict(v) for v in value])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def loaded(path: Path) -> Any:
    try:
        document = yamlfile.load_yaml(path)
    except ConfigError as exc:
        return ("problems", [str(p) for p in exc.problems])
    lines = [document.line_of(p, key=True) for p in (("a",), ("b", 0), ("email",))]
    return ("data", strict(document.data), lines)


def both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, read: Callable[[Path], Any]) -> None:
    fast = read(path)
    with monkeypatch.context() as careful:
        careful.setattr(yamlfile, "_plain_data", lambda *args: yamlfile._UNUSUAL)
        assert read(path) == fast


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A YAML document of mappings, lists and scalars of every kind, with now and then a
    duplicate key, an anchor and alias, a merge key or a tag."""

    def node(depth: int, indent: str) -> str:
        kind = draw(st.sampled_from(["scalar", "map", "list", "flow"] if depth < 4 else ["scalar"]))
        if kind == "scalar":
            return " " + draw(st.sampled_from(SCALARS)).replace("\n", "\n" + indent)
        if kind == "flow":
            items = draw(st.lists(st.sampled_from(SCALARS[:22]), max_size=3))
            return " [" + ", ".join(items) + "]"
        inner = indent + "  "
        if kind == "list":
            items = draw(st.lists(st.just(0), min_size=1, max_size=3))
            return "".join(f"\n{inner}-{node(depth + 1, inner + '  ')}" for _ in items)
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4))
        anchor = draw(st.sampled_from(["", "", "", " &x"]))
        return anchor + "".join(f"\n{inner}{key}:{node(depth + 1, inner)}" for key in keys)

    text = "a:" + node(0, "") + "\nb:" + node(0, "")
    if draw(st.booleans()) and "&x" in text:
        text += "\nc: *x"
    return text + "\n"


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=documents())
def test_any_document_reads_the_same_both_ways(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "document.yaml"
    path.write_text(text, encoding="utf-8")
    both_ways(path, monkeypatch, loaded)


def config_read(path: Path) -> Any:
    try:
        config = load_config(path)
    except ConfigError as exc:
        return ("problems", [str(p) for p in exc.problems])
    lines = {key: config.line_of(key) for key in ("newsletter", "newsletter.sender")}
    return ("config", config.model_dump(), [str(n) for n in config.notes], lines)


@pytest.mark.parametrize(
    "text",
    [
        MINIMAL,
        MINIMAL + "  - email: Ada@Example.ORG\n    interests: {keywords: [x]}\n",  # a duplicate
        MINIMAL.replace("keywords:", "categories: [cs.ai]\n      keywords:"),  # a note
        MINIMAL.replace("    name: Ada\n", "    name: Ada\n    send_time: 8.30\n"),
        MINIMAL.replace("    name: Ada\n", "    name: Ada\n    name: Bea\n"),
        MINIMAL + "  - email: not an address\n    interests: {keywords: ['']}\n",
        MINIMAL.replace("title: Test Digest", "title: &t Test\n  contact: *t"),
        *HOSTILE_FILES.values(),
    ],
)
def test_a_config_loads_the_same_both_ways(
    text: str, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    both_ways(write_config(text), monkeypatch, config_read)


def test_the_benchmark_config_loads_the_same_both_ways_and_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pipeline_data.write(tmp_path, subscribers=300, papers=10, port=1)
    walked: list[int] = []
    original = yamlfile._walk
    monkeypatch.setattr(yamlfile, "_walk", lambda *a: walked.append(1) or original(*a))
    config_read(data.config)
    assert walked == []  # the common file never takes the careful way
    both_ways(data.config, monkeypatch, config_read)
    assert walked == [1]


def test_numbers_that_are_times_or_ids_stay_text_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: [07:30, 2502.10000, 2026-12-25, 12, '07:30']\nb: [x]\n", encoding="utf-8")
    document = yamlfile.load_yaml(path)
    assert document.data["a"] == ["07:30", "2502.10000", date(2026, 12, 25), 12, "07:30"]
    both_ways(path, monkeypatch, loaded)


def test_random_configs_of_readers_load_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    entries = [pipeline_data.subscriber(rng, n) for n in range(40)]
    lines = [MINIMAL.split("subscribers:")[0] + "subscribers:"]
    for entry in entries:
        lines.append(f"  - email: {entry['email']}")
        lines.append(f"    max_papers: {entry['max_papers']}")
        lines.append(f"    interests: {json.dumps(entry['interests'], ensure_ascii=False)}")
    path = tmp_path / "subscribers.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    both_ways(path, monkeypatch, config_read)
    assert isinstance(load_config(path), Config)
