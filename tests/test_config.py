"""Loading subscribers.yaml: inheritance, normalisation, and every kind of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.config import ArxivSource, load_config
from newsletter.errors import ConfigError
from tests.conftest import MINIMAL, REPO

WriteConfig = Callable[..., Path]


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(problem) for problem in info.value.problems]


def test_example_config_in_the_repository_is_valid() -> None:
    config = load_config(REPO / "subscribers.yaml")
    assert len(config.subscribers) >= 2
    kinds = {source.type for source in config.newsletter.sources}
    assert {"arxiv", "huggingface"} <= kinds


def test_subscriber_inherits_defaults_and_overrides_them(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace(
            "  sources:",
            '  timezone: Europe/Warsaw\n  send_time: "06:15"\n  max_papers: 7\n  sources:',
        )
        + '    send_time: "08:30"\n'
    )
    config = load_config(path)
    assert config.subscribers[0].timezone is None  # what the file says, unresolved
    reader = config.readers[0]
    assert reader.timezone == "Europe/Warsaw"
    assert reader.send_time == "08:30"
    assert reader.profile.max_papers == 7
    assert reader.days == ("mon", "tue", "wed", "thu", "fri")
    assert reader.profile.digest == "when-matches"
    assert reader.key == "ada@example.org" and reader.email == "ada@example.org"


def test_a_reader_key_is_the_address_lower_cased_once(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("ada@example.org", "Ada.Lovelace@Example.org"))
    (reader,) = load_config(path).readers
    assert reader.key == "ada.lovelace@example.org"
    assert reader.email.startswith("Ada.Lovelace@")  # the To: address keeps its case
    assert reader.slug.startswith("ada-lovelace-")


def test_unquoted_times_and_arxiv_ids_keep_their_text(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("  sources:", "  send_time: 7:30\n  sources:")
        + "      liked: [2502.10000, arXiv:2401.00001v3, https://arxiv.org/abs/hep-th/9901001v2]\n"
    )
    config = load_config(path)
    assert config.newsletter.send_time == "07:30"
    assert config.subscribers[0].interests.liked == ["2502.10000", "2401.00001", "hep-th/9901001"]


def test_state_path_is_relative_to_the_config_file(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    config = load_config(write_config(MINIMAL))
    assert config.state_path == (tmp_path / "newsletter.db").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("newsletter:\n\ttitle: x\n", ":2: YAML syntax error: "),
        ('newsletter:\n  title: "unclosed\n  sender: x\n', "YAML syntax error"),
        ("- just\n- a list\n", ":1: expected a mapping"),
    ],
)
def test_malformed_yaml_names_the_line(write_config: WriteConfig, text: str, expected: str) -> None:
    (message,) = problems(write_config(text))
    assert message.startswith(str(write_config(text)))
    assert expected in message


def test_tab_indentation_gets_a_hint(write_config: WriteConfig) -> None:
    (message,) = problems(write_config("newsletter:\n\ttitle: x\n"))
    assert "tab" in message


def test_empty_and_missing_files(write_config: WriteConfig, tmp_path: Path) -> None:
    assert "file is empty" in problems(write_config(""))[0]
    assert "file is empty" in problems(write_config("# only a comment\n"))[0]
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: file not found"]


def test_unknown_keys_get_a_did_you_mean(write_config: WriteConfig) -> None:
    text = MINIMAL.replace("  title:", "  timezon: UTC\n  title:").replace(
        "    name: Ada", "    nmae: Ada"
    )
    path = write_config(text)
    assert problems(path) == [
        f"{path}:2: newsletter.timezon: unknown key 'timezon' (did you mean 'timezone'?)",
        f"{path}:10: subscribers[0].nmae: unknown key 'nmae' (did you mean 'name'?)",
    ]


def test_unknown_key_inside_a_source_and_unknown_source_type(write_config: WriteConfig) -> None:
    text = MINIMAL.replace(
        "      categories: [cs.LG]", "      categorys: [cs.LG]\n    - type: atom\n      url: x"
    )
    path = write_config(text)
    found = problems(path)
    assert (
        f"{path}:6: newsletter.sources[0].categorys: "
        "unknown key 'categorys' (did you mean 'categories'?)" in found
    )
    assert any(":7: newsletter.sources[1].type: unknown type 'atom'" in line for line in found)


def test_wrong_types(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "    max_papers: lots\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:12: subscribers[0].max_papers: ")
    assert "integer" in message


def test_bad_email_names_line_and_key(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("ada@example.org", "ada-at-example.org"))
    (message,) = problems(path)
    assert message.startswith(f"{path}:8: subscribers[0].email: not a valid email address")


def test_bad_time_zone_time_and_weekday(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL + '    timezone: Europe/Warsw\n    send_time: "7pm"\n    days: [mon, someday]\n'
    )
    assert problems(path) == [
        f"{path}:12: subscribers[0].timezone: unknown time zone 'Europe/Warsw' (did you mean "
        "'Europe/Warsaw'?); use an IANA name such as 'Europe/Warsaw' or 'UTC'",
        f"{path}:13: subscribers[0].send_time: not a time of day '7pm': use 24-hour 'HH:MM', "
        'quoted, e.g. "07:30"',
        f"{path}:14: subscribers[0].days[1]: "
        "not a weekday 'someday' (did you mean 'sunday'?): use mon, tue, wed, thu, fri, sat, sun",
    ]


def test_duplicate_subscriber(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL + "  - email: ADA@example.org\n    interests:\n      authors: [X Y]\n"
    )
    assert problems(path) == [
        f"{path}:12: subscribers[1].email: duplicate subscriber 'ADA@example.org' (first at line 8)"
    ]


def test_password_in_yaml_points_to_password_env(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace(
            "subscribers:", "  smtp:\n    host: mx.example.org\n    password: hunter2\nsubscribers:"
        )
    )
    (message,) = problems(path)
    assert message.startswith(f"{path}:9: newsletter.smtp.password: ")
    assert "password_env" in message
    assert "hunter2" not in message


def test_arxiv_category_syntax(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("[cs.LG]", "[cs.LG, cs.L G, mth.PR]"))
    found = problems(path)
    assert len(found) == 2
    assert "not an arXiv category 'cs.L G'" in found[0]
    assert "unknown arXiv archive 'mth' (did you mean 'math'?)" in found[1]


def test_empty_interests_are_rejected(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace('      keywords: ["mixture of experts"]', "      keywords: []")
    )
    (message,) = problems(path)
    assert message.startswith(f"{path}:10: subscribers[0].interests: interests are empty")


def test_duplicate_yaml_keys_are_errors(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("    name: Ada", "    name: Ada\n    name: Bob"))
    assert problems(path) == [f"{path}:10: subscribers[0].name: duplicate key (first at line 9)"]


def test_missing_required_key(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("    - type: arxiv\n      categories: [cs.LG]\n", "    - type: feed\n")
    )
    (message,) = problems(path)
    assert message == f"{path}:5: newsletter.sources[0].url: required key is missing"


def test_every_problem_is_reported_at_once(write_config: WriteConfig) -> None:
    text = (
        MINIMAL.replace("ada@example.org", "bad")
        + "    timezone: Nowhere/Land\n    max_papers: 0\n"
    )
    assert len(problems(write_config(text))) == 3


def test_sources_have_readable_default_names(write_config: WriteConfig) -> None:
    config = load_config(write_config(MINIMAL.replace("[cs.LG]", "[cs.LG, stat.ML]")))
    source = config.newsletter.sources[0]
    assert isinstance(source, ArxivSource)
    assert source.label == "arxiv cs.LG+stat.ML"
