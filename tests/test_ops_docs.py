"""The operations docs stay true: the systemd unit, the cron recipe and the GitHub Actions workflow
in docs/ run commands and flags the CLI has, and keep the properties they promise."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from newsletter.config import NewsletterConfig
from newsletter.config_blocks import SmtpConfig
from newsletter.tokens import SECRET_ENV
from tests.conftest import DISTRIBUTION, REPO

DOCS = REPO / "docs"
SERVICE = DOCS / "newsletter.service"
CRON = DOCS / "cron.md"
WORKFLOW = DOCS / "github-actions.yml"
OPS_DOCS = [SERVICE, CRON, WORKFLOW]


# --- the CLI as `--help` describes it ----------------------------------------------------------


def _help(*command: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", *command, "--help"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"newsletter {' '.join(command)} --help: {result.stderr}"
    return result.stdout


@cache
def commands() -> frozenset[str]:
    return frozenset(re.findall(r"^  (\w+)\s", _help().split("Commands:", 1)[1], re.M))


@cache
def flags(*command: str) -> frozenset[str]:
    """Every option `newsletter COMMAND --help` lists (`-c`, `--config`, ...)."""
    found: set[str] = set()
    for line in _help(*command).split("Options:", 1)[1].splitlines():
        option = re.match(r"^  (-.*?)(?:\s{2,}|$)", line)  # the option column only
        if option:
            found |= set(re.findall(r"(?<![\w%-])(--?[A-Za-z][\w-]*)", option.group(1)))
    assert "--help" in found
    return frozenset(found)


# --- command lines in the docs -----------------------------------------------------------------

# `newsletter` as a command word: at a line start or after a space, `=`, a quote or a backtick,
# optionally behind a path (/opt/x/venv/bin/newsletter); then global options, then a word.
INVOCATION = re.compile(
    r"(?:^|(?<=[\s=`'\"(]))(?:/[\w.-]+)*/?newsletter((?:[ \t]+-[-\w]+)*)[ \t]+(\w[\w-]*)(.*)"
)
END = re.compile(r"[`'\";|&<>()#]")  # a quote, backtick or shell operator ends the command


def _candidate_lines(path: Path) -> list[str]:
    """The lines a command may be on: every line, but in Markdown only code (fenced blocks line
    by line, inline code spans with their line breaks joined)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".md":
        return text.splitlines()
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    return [line for block in fenced for line in block.splitlines()] + [f"`{s}`" for s in spans]


def invocations(lines: list[str], code: bool = False) -> list[tuple[str, list[str], list[str]]]:
    """(command, global options, options) of every `newsletter COMMAND ...` in the lines. Unless
    the lines are all `code`, a word that is no command and takes no option is prose."""
    found = []
    for line in lines:
        for match in INVOCATION.finditer(line):
            global_options, word, rest = match.groups()
            if not code and word not in commands() and not rest.strip().startswith("-"):
                continue  # prose ("the newsletter title"), not a command line
            options = []
            for token in rest.split():
                if token[0] in "'\"":
                    continue  # a quoted argument
                end = END.search(token)
                token = token[: end.start()] if end else token
                if re.match(r"--?[A-Za-z]", token):
                    options.append(token.split("=", 1)[0])
                if end:
                    break
            found.append((word, global_options.split(), options))
    return found


def problems(lines: list[str], code: bool = False) -> list[str]:
    found = []
    for command, global_options, options in invocations(lines, code):
        if command not in commands():
            found.append(f"`newsletter {command}`: no such command")
            continue
        found += [f"`newsletter {o}`: no such option" for o in global_options if o not in flags()]
        found += [
            f"`newsletter {command} {o}`: no such option"
            for o in options
            if o not in flags(command)
        ]
    return found


@pytest.mark.parametrize("path", OPS_DOCS, ids=lambda p: p.name)
def test_every_command_line_in_the_ops_docs_uses_real_commands_and_options(path: Path) -> None:
    lines, code = _candidate_lines(path), path.suffix == ".md"
    assert invocations(lines, code), f"{path.name}: no `newsletter` command found"
    assert not problems(lines, code), f"{path.name}: " + "; ".join(problems(lines, code))


def test_the_command_line_check_catches_mistakes() -> None:
    assert problems(["newsletter send --no-such-option -c x"]) == [
        "`newsletter send --no-such-option`: no such option"
    ]
    assert problems(["ExecStart=/opt/v/bin/newsletter sned -c x"]) == [
        "`newsletter sned`: no such command"
    ]
    assert problems(["`newsletter run -c /etc/x.yaml --date 2026-01-05`"]) == [
        "`newsletter run --date`: no such option"
    ]
    fine = [
        "flock -c 'exec newsletter -v send -c /a.yaml --date \"$D\" --dry-run' >>log",
        "the newsletter title",
    ]
    assert invocations(fine) == [("send", ["-v"], ["-c", "--date", "--dry-run"])]
    assert problems(fine) == []
    assert problems(["# `newsletter sned` in prose"]) == []
    assert problems(["`newsletter sned` in code"], code=True) == [
        "`newsletter sned`: no such command"
    ]
    assert invocations(["`newsletter run`, then"], code=True) == [("run", [], [])]
    markdown = _candidate_lines(CRON)
    assert any(c == "history" for c, _, _ in invocations(markdown))  # a span across a line break


def test_the_ops_docs_cover_the_operator_commands() -> None:
    used = {path.name: {c for c, _, _ in invocations(_candidate_lines(path))} for path in OPS_DOCS}
    assert {"run", "status"} <= used[SERVICE.name]
    assert "send" in used[CRON.name]
    assert "send" in used[WORKFLOW.name]


# --- the systemd unit --------------------------------------------------------------------------


def unit(path: Path = SERVICE) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{SERVICE.name}: expected one {key}=, found {values}"
    return values[0]


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)\s*(s|sec|min|m)?", value)
    assert match, f"unsupported time span {value!r}"
    return int(match.group(1)) * (60 if match.group(2) in ("min", "m") else 1)


def test_the_unit_runs_the_scheduler_and_stops_it_with_sigterm() -> None:
    service = unit()["Service"]
    assert _one(service, "Type") == "simple"
    argv = shlex.split(_one(service, "ExecStart"))
    assert Path(argv[0]).is_absolute() and Path(argv[0]).name == "newsletter", argv
    assert argv[1:3] == ["run", "-c"] and Path(argv[3]).is_absolute(), argv
    assert _one(service, "KillSignal") == "SIGTERM"
    assert _one(service, "Restart") == "on-failure"
    # room for the server's reply to the message in flight
    assert _seconds(_one(service, "TimeoutStopSec")) > SmtpConfig.model_fields["timeout"].default


def test_the_unit_runs_unprivileged_with_a_writable_state_directory() -> None:
    text = SERVICE.read_text(encoding="utf-8")
    service = unit()["Service"]
    assert _one(service, "User") not in ("", "root", "0")
    assert Path(_one(service, "EnvironmentFile").lstrip("-")).is_absolute()
    state_dir = f"/var/lib/{_one(service, 'StateDirectory')}"
    assert _one(service, "WorkingDirectory") == state_dir
    assert state_dir in " ".join(service.get("ReadWritePaths", []))
    # the config it documents puts the database there, not next to the config in /etc
    assert f"state: {state_dir}/" in text
    assert _one(service, "ProtectSystem") == "strict"
    assert _one(service, "NoNewPrivileges") == "yes"
    assert _one(service, "PrivateTmp") == "yes"
    # fetching and SMTP need the network; "is the claiming process alive?" needs host pids
    for forbidden in ("PrivateNetwork", "PrivatePIDs", "IPAddressDeny"):
        assert forbidden not in service, forbidden
    assert {"AF_INET", "AF_INET6"} <= set(" ".join(service["RestrictAddressFamilies"]).split())


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    verify_unit(SERVICE, tmp_path)


def verify_unit(service: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing to say about the unit `service`."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # the venv path in ExecStart does not exist here: verify a copy that runs an existing binary
    executable = shutil.which("newsletter") or sys.executable
    text = re.sub(
        r"^ExecStart=\S+", f"ExecStart={executable}", service.read_text("utf-8"), flags=re.M
    )
    copy = tmp_path / service.name
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    ours = [line for line in (result.stdout + result.stderr).splitlines() if service.name in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


# --- cron --------------------------------------------------------------------------------------

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _cron_field(text: str, low: int, high: int, names: list[str], first: int) -> bool:
    def value(item: str) -> int | None:
        if item.isdigit():
            return int(item)
        return names.index(item.lower()) + first if item.lower() in names else None

    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        ends = [value(item) for item in base.split("-")]
        numbers = [e for e in ends if e is not None and low <= e <= high]
        if len(numbers) != len(ends) or len(numbers) > 2 or numbers != sorted(numbers):
            return False
    return True


def valid_cron(expression: str, sunday_seven: bool = True) -> bool:
    fields = expression.split()
    limits = [(0, 59, [], 0), (0, 23, [], 0), (1, 31, [], 0), (1, 12, MONTHS, 1),
              (0, 7 if sunday_seven else 6, WEEKDAYS, 0)]  # fmt: skip
    return len(fields) == 5 and all(
        _cron_field(f, low, high, names, first)
        for f, (low, high, names, first) in zip(fields, limits, strict=True)
    )


def test_the_cron_check_catches_mistakes() -> None:
    assert valid_cron("0 6-9 * * 1-5") and valid_cron("*/15 5-8 * jan-dec mon-fri")
    for wrong in ("0 6-9 * * 1-8", "60 6 * * *", "0 9-6 * * *", "0 6-9 * *", "0 6 * * 7/0"):
        assert not valid_cron(wrong), wrong
    assert not valid_cron("17 5-8 * * 7", sunday_seven=False)


def crontab_entries() -> list[tuple[str, str]]:
    """(schedule, command) of every entry in the crontab blocks of docs/cron.md."""
    text = CRON.read_text(encoding="utf-8")
    blocks = re.findall(r"^```crontab\n(.*?)^```", text, re.S | re.M)
    assert blocks, "docs/cron.md has no ```crontab block"
    entries = []
    for line in "".join(blocks).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):
            continue  # an environment setting
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not a crontab entry: {line!r}"
        entries.append((" ".join(fields[:5]), fields[5]))
    return entries


def test_the_crontab_is_valid_and_runs_send_with_failures_reported() -> None:
    text = CRON.read_text(encoding="utf-8")
    entries = crontab_entries()
    assert entries
    environment_file = _one(unit()["Service"], "EnvironmentFile").lstrip("-")
    for schedule, command in entries:
        assert valid_cron(schedule), schedule
        # cron turns an unescaped % into a newline
        assert not re.search(r"(?<!\\)%", command), command
        assert re.search(r"/newsletter send (--due )?-c /\S+", command), command
        assert f". {environment_file}" in command  # the same secrets file as the unit
        assert "|| echo" in command  # prints (and so mails) only when send fails
    assert re.search(r"^MAILTO=\S+", text, re.M)
    for other in re.findall(r"`([0-9*][^`]*)`", text):  # schedules quoted in the text
        if len(other.split()) == 5:
            assert valid_cron(other), other


# --- GitHub Actions ----------------------------------------------------------------------------


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_workflow_runs_send_on_a_schedule_one_at_a_time() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons and all(valid_cron(c, sunday_seven=False) for c in crons), crons
    assert data["concurrency"]["group"] and data["concurrency"]["cancel-in-progress"] is False
    (job,) = data["jobs"].values()
    assert isinstance(job["timeout-minutes"], int)
    sends = [s for s in job["steps"] if "newsletter send -c" in s.get("run", "")]
    assert len(sends) == 1
    send = sends[0]
    for variable in (SmtpConfig.model_fields["password_env"].default, SECRET_ENV):
        assert "secrets." in send["env"][variable], variable
    for step in job["steps"]:  # inputs reach scripts through env, never pasted into them
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_workflow_restores_the_state_before_and_saves_it_after_even_on_failure() -> None:
    steps = workflow()["jobs"]["send"]["steps"]
    send = next(i for i, s in enumerate(steps) if "newsletter send" in s.get("run", ""))
    state = str(NewsletterConfig.model_fields["state"].default)  # next to subscribers.yaml
    restore = [
        i
        for i, s in enumerate(steps)
        if "newsletter-state" in s.get("run", "") + str(s.get("with"))
    ]
    assert restore and restore[0] < send, "the state must be restored before sending"
    saves = [
        s for s in steps[send + 1 :]
        if "upload-artifact" in s.get("uses", "") or "cache/save" in s.get("uses", "")
    ]  # fmt: skip
    assert saves, "the state must be saved after sending"
    save = saves[0]
    assert "always()" in save.get("if", ""), "the state must be saved when send fails too"
    patterns = str(save["with"]["path"]).split()
    assert any(fnmatch.fnmatch(state, p) for p in patterns), (state, patterns)
    assert any(fnmatch.fnmatch(f"{state}-wal", p) for p in patterns), "the WAL file is state too"


# --- installing the tool -----------------------------------------------------------------------

INSTALL = re.compile(r"\b(?:pip3?|pipx|uv tool|uv pip) install\b(.*)")
PINNED_GIT = re.compile(r"git\+https://\S+@(?:v\d+(?:\.\d+)*|[0-9a-f]{40})")
UPPER_BOUNDS = ("<", "<=", "==", "~=", "===")


def requirement_problem(argument: str) -> str | None:
    """Why `argument` of an install command is not this tool, released, in a pinned range (or
    a pinned git tag or commit): the machine it runs on holds no source tree."""
    if argument in (".", "..") or argument.startswith(("/", "./", "../", "~", "$")):
        return "a path or an unset variable: the repository running it holds no source tree"
    try:
        requirement = Requirement(argument)
    except InvalidRequirement:
        return "not a requirement"
    if canonicalize_name(requirement.name) != canonicalize_name(DISTRIBUTION):
        return f"not {DISTRIBUTION}"
    if requirement.url is not None:
        return None if PINNED_GIT.fullmatch(requirement.url) else "a git URL without tag or commit"
    if not any(spec.operator in UPPER_BOUNDS for spec in requirement.specifier):
        return "no upper bound: the next incompatible release would be installed"
    return None


def install_problems(lines: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with each `pip install ...` in the lines, `$VARIABLES` taken from `env`."""
    found = []
    for line in lines:
        for match in INSTALL.finditer(line):
            rest = re.sub(r"\$\{?(\w+)\}?", lambda m: (env or {}).get(m[1], m[0]), match[1])
            rest = re.split(r"&&|\|\||[;|`]", rest, maxsplit=1)[0]
            arguments = [a for a in shlex.split(rest, comments=True) if not a.startswith("-")]
            if not arguments:
                found.append(f"{line.strip()!r}: installs nothing")
            found += [
                f"{argument!r}: {problem}"
                for argument in arguments
                if (problem := requirement_problem(argument))
            ]
    return found


def test_the_install_check_catches_mistakes() -> None:
    name = DISTRIBUTION
    assert install_problems([f'pip install "{name}>=0.1.0,<0.2"']) == []
    assert install_problems([f'pipx install "{name} @ git+https://github.com/o/r@v0.1.0"']) == []
    assert (
        install_problems(['pip install "$P" && newsletter --version'], {"P": f"{name}~=0.1.0"})
        == []
    )
    for wrong in (
        "pip install .",
        "pip install -e .",
        "pip install /path/to/checkout",
        "pip install -r requirements.txt",
        f"pip install {name}",
        f'pip install "{name}>=0.1"',
        "pip install paper-digest==0.1.0",  # another project's name on PyPI
        f'pip install "{name} @ git+https://github.com/o/r"',
        'pip install "$UNSET"',
        "pip install",
    ):
        assert install_problems([wrong]), wrong


@pytest.mark.parametrize("path", [SERVICE, CRON], ids=lambda p: p.name)
def test_the_ops_docs_install_the_released_tool_by_name(path: Path) -> None:
    lines = _candidate_lines(path)
    assert any(INSTALL.search(line) for line in lines), f"{path.name}: no install command"
    assert not install_problems(lines), install_problems(lines)


def test_the_workflow_needs_nothing_but_the_config_in_its_repository() -> None:
    """It runs in a repository holding subscribers.yaml: the tool comes from PyPI by name in a
    pinned range, or from a pinned git tag, never from a checkout of the source."""
    data = workflow()
    (job,) = data["jobs"].values()
    steps = job["steps"]
    installs = []
    for n, step in enumerate(steps):
        env = {**data.get("env", {}), **job.get("env", {}), **step.get("env", {})}
        lines = step.get("run", "").splitlines()
        if any(INSTALL.search(line) for line in lines):
            installs.append(n)
        assert not install_problems(lines, env), (step.get("name"), install_problems(lines, env))
    send = next(n for n, s in enumerate(steps) if "newsletter send" in s.get("run", ""))
    assert installs and installs[0] < send
    # no step reads a file of the project's own tree (a pip cache keyed on pyproject.toml fails)
    everything = yaml.safe_dump(steps)
    for name in ("pyproject.toml", "setup.py", "setup.cfg", "requirements", "newsletter/"):
        assert name not in everything, name
    # the documented alternative, a git URL, is pinned as well
    urls = re.findall(r'"([^"\n]*git\+[^"\n]*)"', WORKFLOW.read_text(encoding="utf-8"))
    assert urls and not [u for u in urls if requirement_problem(u)], urls
