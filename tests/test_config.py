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


# --- values that pass the schema but would match nothing or mislead ----------------------------

FIXTURES = REPO.parent / "shared" / "fixtures" / "real"


def test_categories_are_checked_against_arxivs_list(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("[cs.LG]", "[cs.ai, cs.XYZ, math.pr]"))
    (message,) = problems(path)
    assert message.startswith(
        f"{path}:6: newsletter.sources[0].categories[1]: unknown arXiv category 'cs.XYZ'"
    )
    assert "https://arxiv.org/category_taxonomy" in message


def test_categories_in_any_case_are_read_as_arxiv_writes_them(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("[cs.LG]", "[cs.ai, Math.PR, cs]")
        + "      categories: [cs.lg, cond-mat.MES-HALL, hep-th]\n"
    )
    config = load_config(path)
    source = config.newsletter.sources[0]
    assert isinstance(source, ArxivSource)
    assert source.categories == ["cs.AI", "math.PR", "cs"]  # an archive alone: its listing
    assert config.readers[0].profile.categories == ("cs.LG", "cond-mat.mes-hall", "hep-th")
    assert [str(note) for note in config.notes] == [
        f"{path}:6: newsletter.sources[0].categories[0]: 'cs.ai' is read as 'cs.AI', "
        "as arXiv writes it",
        f"{path}:6: newsletter.sources[0].categories[1]: 'Math.PR' is read as 'math.PR', "
        "as arXiv writes it",
        f"{path}:12: subscribers[0].interests.categories[0]: 'cs.lg' is read as 'cs.LG', "
        "as arXiv writes it",
        f"{path}:12: subscribers[0].interests.categories[1]: 'cond-mat.MES-HALL' is read as "
        "'cond-mat.mes-hall', as arXiv writes it",
    ]


def test_a_readers_category_is_never_a_whole_archive(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "      categories: [cs]\n")
    (message,) = problems(path)
    assert message == (
        f"{path}:12: subscribers[0].interests.categories[0]: 'cs' is a whole archive: papers "
        "are listed under its categories; name those, e.g. 'cs.AI' (see "
        "https://arxiv.org/category_taxonomy)"
    )


def test_the_bundled_category_list_holds_every_category_of_real_listings() -> None:
    import re

    from newsletter.fields import ARXIV_ARCHIVES, arxiv_categories

    known = set(arxiv_categories().values())
    assert {name.split(".")[0] for name in known} == ARXIV_ARCHIVES
    assert {"cs.AI", "cs.SY", "stat.ML", "hep-th", "gr-qc", "quant-ph", "math-ph"} <= known
    if not FIXTURES.is_dir():
        pytest.skip("no ../shared/fixtures/real")
    found: set[str] = set()
    for path in FIXTURES.glob("arxiv*.xml"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'<category[^>]*term="([^"]+)"', text))
        found |= set(re.findall(r"<category>([^<]+)</category>", text))
        in_titles = r"\[([a-z-]+(?:\.[A-Za-z-]+)?)\]\)"  # "Title. (arXiv:1209.2411v1 [math.PR])"
        found |= set(re.findall(in_titles, text))
    assert len(found) > 50
    assert found - known == set()


@pytest.mark.parametrize(
    ("zone", "note"),
    [
        ("EST", "EST is a fixed UTC-05:00 offset without daylight saving; for New York use "
                "America/New_York"),
        ("US/Eastern", "US/Eastern is a legacy name; for New York use America/New_York"),
        ("EST5EDT", "EST5EDT is a legacy name; for New York use America/New_York"),
        ("Etc/GMT+5", "Etc/GMT+5 is a fixed UTC-05:00 offset (POSIX inverts the sign) without "
                      "daylight saving; name the place instead"),
        ("GMT", "GMT is a fixed UTC+00:00 offset without daylight saving; for London use "
                "Europe/London, or write UTC"),
        ("Asia/Calcutta", "Asia/Calcutta is a legacy name; for Kolkata use Asia/Kolkata"),
    ],
)  # fmt: skip
def test_legacy_time_zones_pass_with_a_note(
    write_config: WriteConfig, zone: str, note: str
) -> None:
    path = write_config(
        MINIMAL.replace("  sources:", f"  timezone: {zone}\n  sources:") + "    timezone: HST\n"
    )
    config = load_config(path)  # a warning, not an error
    assert config.readers[0].timezone == "HST"
    assert [str(found) for found in config.notes] == [
        f"{path}:4: newsletter.timezone: {note}",
        f"{path}:13: subscribers[0].timezone: HST is a fixed UTC-10:00 offset without daylight "
        "saving; for Honolulu use Pacific/Honolulu",
    ]


def test_good_time_zones_have_no_note(write_config: WriteConfig) -> None:
    for zone in ("UTC", "Etc/UTC", "Europe/Warsaw", "America/New_York", "Asia/Kolkata"):
        path = write_config(MINIMAL.replace("  sources:", f"  timezone: {zone}\n  sources:"))
        assert load_config(path).notes == [], zone


def test_every_legacy_zone_is_a_zone_and_suggests_one() -> None:
    from zoneinfo import available_timezones

    from newsletter.fields import _legacy_zones, timezone_note

    zones = available_timezones()
    for name, instead in _legacy_zones().items():
        assert name in zones, name
        assert instead is None or instead == "UTC" or instead in zones, (name, instead)
        assert instead not in _legacy_zones(), name  # never from one legacy name to another
        assert timezone_note(name), name


def test_a_utc_offset_is_no_zone_and_the_hint_says_so(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "    timezone: GMT+5\n")
    (message,) = problems(path)
    assert "unknown time zone 'GMT+5' (a UTC offset is not a zone: name the place" in message
    assert "a fixed UTC+5 all year is 'Etc/GMT-5'" in message
    assert "did you mean 'GMT+0'" not in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            MINIMAL.replace("  sources:", "  send_time: 8.30\n  sources:"),
            ":4: newsletter.send_time",
        ),
        (MINIMAL + "    send_time: 8.30\n", ":12: subscribers[0].send_time"),
    ],
)
def test_a_time_read_as_a_number_is_quoted_as_written(
    write_config: WriteConfig, text: str, where: str
) -> None:
    (message,) = problems(write_config(text))  # YAML reads 8.30 as the float 8.3
    assert message.endswith(
        f"{where}: not a time of day '8.30' (did you mean \"08:30\"?): use 24-hour 'HH:MM', "
        'quoted, e.g. "07:30"'
    )
