"""Hostile config files: every one is refused with one line naming the file, the line and the
key, in bounded time, before any command starts (never a hang, a traceback or a failure later).

Covers: alias bombs and other unbounded documents, files that are not regular files, bytes that
are not UTF-8 text, quotes left open, values YAML cannot build, and values that used to pass
validation and fail at send time (infinite timeouts, booleans as numbers, weekdays that only
start like one, header injection through the sender, names and URLs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.errors import ConfigError
from newsletter.yamlfile import MAX_ALIAS_NODES, MAX_NODES
from newsletter.yamltext import MAX_BYTES
from tests.conftest import MINIMAL

WriteConfig = Callable[..., Path]
BOUND = 30  # seconds: a regression fails here instead of hanging CI


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(problem) for problem in info.value.problems]


def one_problem(path: Path) -> str:
    (message,) = problems(path)
    return message


def validate(path: Path | str) -> subprocess.CompletedProcess[str]:
    """`newsletter validate -c PATH` as a user runs it, within BOUND seconds."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=BOUND,
    )


def assert_refused(result: subprocess.CompletedProcess[str], path: Path | str) -> list[str]:
    """Exit 1; every problem one line starting with the file; no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: "), lines
    for line in lines[:-1]:
        assert line.startswith(f"{path}"), line
        assert "position" not in line, line
    return lines[:-1]


def with_newsletter(line: str) -> str:
    """MINIMAL with `line` (two-space indented) added to the `newsletter:` block."""
    return MINIMAL.replace("  sources:", f"{line}\n  sources:", 1)


def with_smtp(*lines: str) -> str:
    return with_newsletter(
        "  smtp:\n    host: mx.example.org" + "".join(f"\n    {x}" for x in lines)
    )


def with_dkim(selector: str, domain: str) -> str:
    keys = f"selector: {selector}\n    domain: {domain}\n    private_key_path: k.pem"
    return with_newsletter(f"  dkim:\n    {keys}")


def with_subscriber(line: str) -> str:
    return MINIMAL + line + "\n"


# --- unbounded documents ---------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """About 500 bytes that expand to width**levels nodes (a "billion laughs")."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\nnewsletter:\n  title: x\n"


def test_an_alias_bomb_is_refused_in_bounded_time(write_config: WriteConfig) -> None:
    path = write_config(alias_bomb())
    assert path.stat().st_size < 1024
    started = time.monotonic()
    (line,) = assert_refused(validate(path), path)
    assert time.monotonic() - started < BOUND
    assert re.match(rf"^{re.escape(str(path))}:8: the document expands to more than ", line)
    assert f"{MAX_ALIAS_NODES:,} nodes through aliases (&anchor/*alias)" in line


def test_a_deeper_alias_bomb_is_refused_as_fast(write_config: WriteConfig) -> None:
    path = write_config(alias_bomb(levels=40, width=12))  # 12**40 nodes once expanded
    started = time.monotonic()
    (line,) = assert_refused(validate(path), path)
    assert time.monotonic() - started < BOUND
    assert "through aliases" in line


def test_a_long_text_repeated_by_aliases_is_refused(write_config: WriteConfig) -> None:
    text = "x" * 20_000  # 1,000 aliases: 20 MB of text from a 25 kB file
    aliases = ", ".join(["*t"] * 1_000)
    path = write_config(
        f"newsletter:\n  title: &t {text}\nsubscribers:\n"
        f"  - email: a@example.org\n    interests:\n      keywords: [{aliases}]\n"
    )
    (line,) = assert_refused(validate(path), path)
    assert line.startswith(f"{path}:2: the document expands to more than 16 MiB of text")


def test_an_alias_inside_its_own_anchor_is_refused(write_config: WriteConfig) -> None:
    path = write_config("newsletter: &n\n  title: x\n  sources: [*n]\n")
    assert one_problem(path) == (
        f"{path}:1: an alias (*anchor) refers to the value that contains it"
    )


@pytest.mark.parametrize("nesting", ["[" * 900 + "]" * 900, "{a: " * 900 + "1" + "}" * 900])
def test_deep_nesting_is_one_line(write_config: WriteConfig, nesting: str) -> None:
    path = write_config(f"newsletter: {nesting}\n")
    assert "nested more than 100 levels deep" in one_problem(path)


def test_ordinary_anchors_aliases_and_merge_keys_still_work(write_config: WriteConfig) -> None:
    path = write_config(
        """\
        newsletter:
          sender: "Test <digest@example.org>"
          sources:
            - type: arxiv
              categories: &cats [cs.LG, stat.ML]
        subscribers:
          - email: ada@example.org
            interests: &ml
              keywords: ["mixture of experts"]
              categories: *cats
            days: &midweek [tue, wed, thu]
          - email: bob@example.org
            interests: *ml
            days: *midweek
          - <<: {max_papers: 5, digest: always}
            email: cy@example.org
            interests: *ml
        """
    )
    config = load_config(path)
    assert [reader.days for reader in config.readers][:2] == [("tue", "wed", "thu")] * 2
    assert config.readers[2].profile.max_papers == 5
    assert config.readers[1].profile.categories == ("cs.LG", "stat.ML")


def test_aliases_shared_by_many_readers_stay_within_the_budget(write_config: WriteConfig) -> None:
    readers = "".join(f"  - email: r{i}@example.org\n    interests: *ml\n" for i in range(2000))
    path = write_config(
        MINIMAL.replace(
            '      keywords: ["mixture of experts"]', "      keywords: &kw [a, b]"
        ).replace("    interests:\n", "    interests: &ml\n", 1)
        + readers
    )
    assert len(load_config(path).readers) == 2001


def test_a_duplicate_key_inside_an_anchor_is_reported_once(write_config: WriteConfig) -> None:
    path = write_config(
        "defaults: &d {max_papers: 3, max_papers: 4}\n"
        + with_newsletter("  digest: always").replace("newsletter:\n", "newsletter:\n  x: *d\n")
    )
    assert problems(path) == [f"{path}:1: defaults.max_papers: duplicate key (first at line 1)"]


# --- files that are not config files ---------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "subscribers.yaml"
    os.mkfifo(fifo)
    (line,) = assert_refused(validate(fifo), fifo)
    assert line == f"{fifo}: cannot read the config file: it is a FIFO, not a regular file"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_without_reading_it() -> None:
    (line,) = assert_refused(validate("/dev/zero"), "/dev/zero")
    assert "not a regular file" in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "subscribers.yaml"
    link.symlink_to("/dev/zero")
    assert one_problem(link).endswith("it is a device or socket, not a regular file")


def test_a_file_larger_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.yaml"
    with path.open("wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: nothing is written
    assert (
        one_problem(path) == f"{path}: cannot read the config file: the file is larger than 16 MiB"
    )


def test_a_file_of_too_many_tiny_values_is_refused_before_they_are_built(
    write_config: WriteConfig,
) -> None:
    path = write_config("newsletter: [" + "a," * MAX_NODES + "a]\n")  # 4 MB, within the cap
    started = time.monotonic()
    (line,) = assert_refused(validate(path), path)
    assert time.monotonic() - started < BOUND
    assert line.startswith(f"{path}:1: the document has more than {MAX_NODES:,} values")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    assert "it is a folder" in one_problem(tmp_path)


# --- bytes and syntax, each at its line ------------------------------------------------------


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "subscribers.yaml"
    path.write_bytes(data)
    return path


def test_a_byte_that_is_not_utf8_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = write_bytes(
        tmp_path, MINIMAL.replace("Ada", "Ad\udcff", 1).encode("utf-8", "surrogateescape")
    )
    assert one_problem(path) == (
        f"{path}:9: not UTF-8 text: byte 0xff at column 13; save the file as UTF-8"
    )
    (line,) = assert_refused(validate(path), path)
    assert line.startswith(f"{path}:9: ")


def test_a_nul_byte_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, MINIMAL.replace("Test Digest\n", "Test\x00Digest\n").encode())
    assert one_problem(path) == (
        f"{path}:2: a NUL byte (U+0000) at column 14: "
        "YAML does not allow control characters in a file"
    )
    (line,) = assert_refused(validate(path), path)
    assert line.startswith(f"{path}:2: ")


def test_a_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, MINIMAL.encode("utf-16"))
    assert one_problem(path) == f"{path}:1: the file is UTF-16: save it as UTF-8"


def test_an_unclosed_quote_is_reported_where_it_opens(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("  title: Test Digest", '  title: "Test Digest', 1).replace(
            '  sender: "Test Digest <digest@example.org>"\n', ""
        )
    )  # the next quote, ten lines down, closes it
    message = one_problem(path)
    assert message == (
        f"{path}:2: YAML syntax error: unclosed quote starting here "
        "(the quoted text runs on to line 10)"
    )


def test_an_unclosed_bracket_is_reported_where_it_opens(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("[cs.LG]", "[cs.LG, stat.ML\n    - type: huggingface", 1))
    assert one_problem(path) == (
        f"{path}:6: YAML syntax error: the '[' opened here is not closed "
        "(did not find expected ',' or ']' at line 7)"
    )


def test_a_windows_path_in_double_quotes_gets_a_hint(write_config: WriteConfig) -> None:
    path = write_config(with_newsletter('  state: "C:\\Users\\ada\\digest.db"'))
    message = one_problem(path)
    assert message.startswith(f"{path}:4: YAML syntax error: ")
    assert "a backslash starts an escape" in message


def test_a_quote_open_to_the_end_of_the_file(write_config: WriteConfig) -> None:
    path = write_config("newsletter:\n  title: Digest\n  sender: 'Digest <d@example.org>\n  x: 1\n")
    assert one_problem(path) == (
        f"{path}:3: YAML syntax error: unclosed quote starting here "
        "(the quoted text runs on to the end of the file)"
    )


def test_a_value_on_several_quoted_lines_is_not_blamed(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("  title: Test Digest", '  title: "Test\n    Digest"') + "    oops oops\n"
    )
    message = one_problem(path)
    assert "unclosed quote" not in message
    assert "(while scanning a simple key started at line 13)" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  holidays: [2026-13-45]", "'2026-13-45' as timestamp: month must be in 1..12"),
        ("  max_papers: !!int abc", "cannot read 'abc' as int: invalid literal"),
        ("  max_papers: " + "9" * 5000, "Exceeds the limit (4300 digits)"),
        ("  max_papers: !!bool maybe", "cannot read 'maybe' as bool"),
        ("  holidays: [!!timestamp soon]", "cannot read 'soon' as timestamp"),
    ],
)
def test_values_yaml_cannot_build_are_one_line(
    write_config: WriteConfig, value: str, expected: str
) -> None:
    path = write_config(with_newsletter(value))
    message = one_problem(path)
    assert message.startswith(f"{path}:4: ")
    assert expected in message


# --- values that used to pass and fail later -------------------------------------------------


@pytest.mark.parametrize("timeout", [".inf", "-.inf", "1e300", ".nan", "-1", "0", "0.05", "3601"])
def test_smtp_timeout_is_finite_and_bounded(write_config: WriteConfig, timeout: str) -> None:
    path = write_config(with_smtp(f"timeout: {timeout}"))
    assert one_problem(path).startswith(f"{path}:6: newsletter.smtp.timeout: ")


@pytest.mark.parametrize("timeout", ["0.5", "1", "30.5", "3600"])
def test_smtp_timeout_within_bounds_is_accepted(write_config: WriteConfig, timeout: str) -> None:
    config = load_config(write_config(with_smtp(f"timeout: {timeout}")))
    assert config.newsletter.smtp is not None
    assert config.newsletter.smtp.timeout == float(timeout)


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (with_newsletter("  max_papers: true"), 4, "newsletter.max_papers"),
        (with_newsletter("  min_score: false"), 4, "newsletter.min_score"),
        (with_subscriber("    max_papers: true"), 12, "subscribers[0].max_papers"),
        (with_subscriber("    min_score: true"), 12, "subscribers[0].min_score"),
        (with_smtp("port: true"), 6, "newsletter.smtp.port"),
        (
            MINIMAL.replace(
                "type: arxiv\n      categories: [cs.LG]",
                "type: arxiv_query\n      query: ti:x\n      max_results: true",
            ),
            7,
            "newsletter.sources[0].max_results",
        ),
    ],
)
def test_a_boolean_is_never_a_number(
    write_config: WriteConfig, text: str, line: int, key: str
) -> None:
    path = write_config(text)
    message = one_problem(path)
    assert message.startswith(f"{path}:{line}: {key}: expected a number, not ")


def test_numbers_keep_their_ordinary_forms(write_config: WriteConfig) -> None:
    config = load_config(write_config(with_newsletter("  min_score: 1\n  max_papers: 20")))
    assert config.newsletter.min_score == 1.0
    assert config.newsletter.max_papers == 20


def test_only_real_weekdays_are_accepted(write_config: WriteConfig) -> None:
    path = write_config(with_subscriber("    days: [monkey, tuesdayish, Friday]"))
    assert problems(path) == [
        f"{path}:12: subscribers[0].days[0]: not a weekday 'monkey' (did you mean 'monday'?): "
        "use mon, tue, wed, thu, fri, sat, sun",
        f"{path}:12: subscribers[0].days[1]: not a weekday 'tuesdayish' (did you mean "
        "'tuesday'?): use mon, tue, wed, thu, fri, sat, sun",
    ]


def test_weekdays_in_their_common_forms(write_config: WriteConfig) -> None:
    path = write_config(with_subscriber("    days: [Monday, TUES, weds, thurs, fri, Sunday, mon]"))
    assert load_config(path).readers[0].days == ("mon", "tue", "wed", "thu", "fri", "sun")


def test_no_days_at_all_is_refused(write_config: WriteConfig) -> None:
    path = write_config(with_subscriber("    days: []"))
    assert one_problem(path).startswith(f"{path}:12: subscribers[0].days: give at least one day")


@pytest.mark.parametrize(
    "url",
    [
        '"https://digest.example.org/u\\r\\nBcc: x@example.org"',
        '"https://digest.example.org/un subscribe"',
        '"https://digest.example.org/u\\x00"',
        "https://user:secret@digest.example.org/u",
        "https://digest.example.org/u#top",
        "https://digest.example.org/désabonner",
        '"https://digest.example.org/u>x"',
        "http://digest.example.org/u",
        "https:///u",
        "https://digest.example.org/u?list=ml&t=1",
    ],
)
def test_unsubscribe_url_that_a_header_cannot_carry(write_config: WriteConfig, url: str) -> None:
    path = write_config(with_newsletter(f"  unsubscribe_url: {url}"))
    assert one_problem(path).startswith(f"{path}:4: newsletter.unsubscribe_url: ")


def test_a_plain_unsubscribe_url_is_kept(write_config: WriteConfig) -> None:
    url = "https://digest.example.org/unsubscribe?list=ml&x=%C3%A9"
    config = load_config(write_config(with_newsletter(f"  unsubscribe_url: {url}")))
    assert config.newsletter.unsubscribe_url == url


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ('"Digest <d@example.org>\\r\\nBcc: evil@example.org"', "control character U+000D"),
        ('"d@example.org\\nBcc: evil@example.org"', "control character U+000A"),
        ('"a@example.org, b@example.org"', "expected exactly one address"),
        ('"A <a@example.org>, B <b@example.org>"', "expected exactly one address"),
        ('"a@example.org b@example.org"', "expected exactly one address"),
        ('"Dige\\x07st <d@example.org>"', "control character U+0007"),
        ('"Digest\\u202e <d@example.org>"', "control character U+202E"),
        ('"Lovelace, Ada <d@example.org>"', "must be quoted"),
        ('"Digest <d@example.org"', "expected 'Name <address@example.org>'"),
        ('"Digest <' + "a" * 80 + '@example.org>"', "the @-sign is too long (80 bytes"),
    ],
)
def test_sender_is_exactly_one_clean_mailbox(
    write_config: WriteConfig, sender: str, expected: str
) -> None:
    path = write_config(MINIMAL.replace('"Test Digest <digest@example.org>"', sender))
    message = one_problem(path)
    assert message.startswith(f"{path}:3: newsletter.sender: ")
    assert expected in message


@pytest.mark.parametrize(
    ("sender", "stored"),
    [
        ("'\"Lovelace, Ada\" <ada@example.org>'", '"Lovelace, Ada" <ada@example.org>'),
        ('"Dr. Ada <ada@example.org>"', '"Dr. Ada" <ada@example.org>'),
        ('"Zoë Digest <zoe@example.org>"', "Zoë Digest <zoe@example.org>"),
        ('"Digest <ada@XN--BCHER-KVA.de>"', "Digest <ada@bücher.de>"),
        ('"用户@例子.广告"', "用户@例子.广告"),
        ('"<ada@example.org>"', "ada@example.org"),
    ],
)
def test_sender_forms_that_are_kept(write_config: WriteConfig, sender: str, stored: str) -> None:
    path = write_config(MINIMAL.replace('"Test Digest <digest@example.org>"', sender))
    assert load_config(path).newsletter.sender == stored


def test_the_local_part_is_at_most_64_octets(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL.replace("ada@example.org", "a" * 80 + "@example.org"))
    message = one_problem(path)
    assert message.startswith(f"{path}:8: subscribers[0].email: not a valid email address: ")
    assert "too long" in message and "before the @-sign" in message
    accented = write_config(MINIMAL.replace("ada@example.org", "é" * 33 + "@example.org"))
    assert "before the @-sign is too long (66 bytes, at most 64)" in one_problem(accented)
    assert load_config(write_config(MINIMAL.replace("ada@", "a" * 64 + "@"))).readers


def test_international_addresses_are_accepted_and_normalised(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("ada@example.org", "ada@XN--BCHER-KVA.DE")
        + "  - email: 用户@例子.广告\n    interests:\n      keywords: [x]\n"
    )
    first, second = load_config(path).readers
    assert (first.email, first.key) == ("ada@bücher.de", "ada@bücher.de")
    assert second.email == "用户@例子.广告"


def test_one_reader_under_two_spellings_is_a_duplicate(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("ada@example.org", "ada@xn--bcher-kva.de")
        + "  - email: ADA@Bücher.de\n    interests:\n      keywords: [x]\n"
    )
    assert problems(path) == [
        f"{path}:12: subscribers[1].email: duplicate subscriber 'ADA@Bücher.de' (first at line 8)"
    ]


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [
        (with_smtp("port: 0"), ":6: newsletter.smtp.port: ", "greater than or equal to 1"),
        (with_smtp("port: 70000"), ":6: newsletter.smtp.port: ", "less than or equal to 65535"),
        (
            MINIMAL.replace("  sources:", "  smtp:\n    host: mx.example.org:587\n  sources:"),
            ":5: newsletter.smtp.host: ",
            "write the host alone and `port: 587`",
        ),
        (
            with_smtp("password_env: 'MY PASSWORD'"),
            ":6: newsletter.smtp.password_env: ",
            "not an environment variable name",
        ),
        (
            with_smtp('username: "me\\r\\nAUTH x"'),
            ":6: newsletter.smtp.username: ",
            "control character",
        ),
        (with_newsletter("  state: ''"), ":4: newsletter.state: ", "must not be empty"),
        (
            with_newsletter('  state: "a\\x00b"'),
            ":4: newsletter.state: ",
            "control character U+0000",
        ),
        (
            with_newsletter("  state: " + "a" * 5000),
            ":4: newsletter.state: ",
            "cannot use this path",
        ),
        (
            MINIMAL.replace("  title: Test Digest", '  title: "Digest\\nBcc: x@example.org"'),
            ":2: newsletter.title: ",
            "control character U+000A",
        ),
        (
            MINIMAL.replace("  title: Test Digest", '  title: "Digest\\x1b[31m"'),
            ":2: newsletter.title: ",
            "control character U+001B",
        ),
        (
            with_subscriber("    timezone: " + "A" * 5000),
            ":12: subscribers[0].timezone: ",
            "unknown time zone",
        ),
        (
            with_subscriber("    timezone: localtime"),
            ":12: subscribers[0].timezone: ",
            "unknown time zone",
        ),
        (
            with_subscriber("    timezone: ../../etc/passwd"),
            ":12: subscribers[0].timezone: ",
            "unknown time zone",
        ),
        (
            with_subscriber("    timezone: europe/warsaw"),
            ":12: subscribers[0].timezone: ",
            "did you mean 'Europe/Warsaw'",
        ),
        (
            with_subscriber('    send_time: "24:00"'),
            ":12: subscribers[0].send_time: ",
            "not a time of day",
        ),
        (
            with_newsletter("  holidays: [86400]"),
            ":4: newsletter.holidays[0]: ",
            "write it as YYYY-MM-DD",
        ),
        (
            MINIMAL.replace("    - type: arxiv\n      categories: [cs.LG]\n", "    []\n"),
            ":4: newsletter.sources: ",
            "at least 1 item",
        ),
        (
            MINIMAL.replace(
                "type: arxiv\n      categories: [cs.LG]",
                "type: arxiv_query\n      query: ti:x\n      max_results: 100000",
            ),
            ":7: newsletter.sources[0].max_results: ",
            "less than or equal to 2000",
        ),
        (
            MINIMAL.replace(
                "      categories: [cs.LG]\n",
                "      categories: [cs.LG]\n    - type: feed\n      url: ftp://example.org/feed\n",
            ),
            ":8: newsletter.sources[1].url: ",
            "unsupported URL scheme 'ftp'",
        ),
        (
            MINIMAL.replace(
                "      categories: [cs.LG]\n",
                "      categories: [cs.LG]\n    - type: arxiv\n      categories: [cs.LG]\n",
            ),
            ":7: newsletter.sources[1].name: ",
            "duplicate source name 'arxiv cs.LG' (first at line 5)",
        ),
        (
            MINIMAL.replace("    name: Ada", '    name: "Ada\\r\\nBcc: evil@example.org"'),
            ":9: subscribers[0].name: ",
            "control character U+000D",
        ),
        (
            MINIMAL.replace('["mixture of experts"]', '["moe", ""]'),
            ":11: subscribers[0].interests.keywords[1]: ",
            "must not be empty",
        ),
        (
            MINIMAL.replace('["mixture of experts"]', '["."]'),
            ":11: subscribers[0].interests.keywords[0]: ",
            "no letter or digit",
        ),
        (
            MINIMAL.replace('["mixture of experts"]', "[on]"),
            ":11: subscribers[0].interests.keywords[0]: ",
            "quote it",
        ),
        (
            with_dkim("'a; x=y'", "example.org"),
            ":5: newsletter.dkim.selector: ",
            "not a DKIM selector",
        ),
    ],
)
def test_values_that_would_fail_later_are_refused_at_load(
    write_config: WriteConfig, text: str, prefix: str, expected: str
) -> None:
    path = write_config(text)
    message = one_problem(path)
    assert message.startswith(f"{path}{prefix}")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        (
            MINIMAL.replace("  title: Test Digest", "  title: " + "T" * 300),
            ":2: newsletter.title: ",
        ),
        (
            MINIMAL.replace('"Test Digest <digest@example.org>"', '"' + "N" * 300 + ' <d@x.org>"'),
            ":3: newsletter.sender: ",
        ),
        (MINIMAL.replace("    name: Ada", "    name: " + "A" * 300), ":9: subscribers[0].name: "),
        (
            with_newsletter("  unsubscribe_url: https://x.org/" + "u" * 600),
            ":4: newsletter.unsubscribe_url: ",
        ),
    ],
)
def test_header_values_have_a_length_limit(
    write_config: WriteConfig, text: str, prefix: str
) -> None:
    path = write_config(text)
    message = one_problem(path)
    assert message.startswith(f"{path}{prefix}")
    assert "characters long: at most" in message


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null here")
def test_a_state_path_that_is_a_device(write_config: WriteConfig) -> None:
    path = write_config(with_newsletter("  state: /dev/null"))
    assert one_problem(path) == (
        f"{path}:4: newsletter.state: /dev/null is not a regular file: name a file, "
        "e.g. newsletter.db"
    )


def test_a_state_path_that_is_a_folder(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = write_config(with_newsletter("  state: data"))
    assert one_problem(path) == (
        f"{path}:4: newsletter.state: {tmp_path / 'data'} is a folder: name a file, "
        "e.g. newsletter.db"
    )


def test_a_blank_name_is_no_name(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("    name: Ada", '    name: "  "').replace(
            "      categories: [cs.LG]\n", "      categories: [cs.LG]\n      name: ''\n", 1
        )
    )
    config = load_config(path)
    assert config.readers[0].name is None
    assert config.newsletter.sources[0].label == "arxiv cs.LG"


def test_an_empty_feed_url_is_refused(write_config: WriteConfig) -> None:
    path = write_config(
        MINIMAL.replace("type: arxiv\n      categories: [cs.LG]", "type: feed\n      url: ''")
    )
    assert one_problem(path) == f"{path}:6: newsletter.sources[0].url: must not be empty"


def test_an_international_dkim_domain_is_signed_in_its_ascii_form(
    write_config: WriteConfig,
) -> None:
    path = write_config(with_dkim("mail", "bücher.de"))
    dkim = load_config(path).newsletter.dkim
    assert dkim is not None and dkim.domain == "xn--bcher-kva.de"


# --- the command line: one line per problem, whatever the file -------------------------------


HOSTILE_FILES = {
    "alias bomb": alias_bomb(),
    "recursive alias": "newsletter: &n\n  title: x\n  sources: [*n]\n",
    "unclosed quote": 'newsletter:\n  title: "x\n  sources: []\n',
    "bad timestamp": "newsletter:\n  holidays: [2026-02-30]\n",
    "timeout": with_smtp("timeout: .inf"),
    "boolean": with_newsletter("  max_papers: true"),
    "weekday": with_newsletter("  days: [monkey]"),
    "unsubscribe": with_newsletter('  unsubscribe_url: "https://x.org/u\\r\\nBcc: y"'),
    "sender": MINIMAL.replace('"Test Digest <digest@example.org>"', '"a@x.org, b@y.org"'),
    "long local part": MINIMAL.replace("ada@", "a" * 80 + "@"),
    "time zone": with_subscriber("    timezone: " + "A" * 5000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_validate_refuses_each_hostile_file_in_one_line(
    write_config: WriteConfig, name: str
) -> None:
    path = write_config(HOSTILE_FILES[name])
    lines = assert_refused(validate(path), path)
    assert lines
    for line in lines:
        assert re.match(rf"^{re.escape(str(path))}:\d+: ", line), line


def test_an_international_contact_still_makes_a_valid_user_agent() -> None:
    import httpx

    from newsletter.sources.http import make_client, user_agent

    agent = user_agent("用户@例子.广告")
    assert agent.isascii() and "mailto:" in agent
    with make_client("用户@例子.广告") as client:  # an ASCII-only header: it must not raise
        assert isinstance(client, httpx.Client)
        assert client.headers["User-Agent"] == agent
