"""README is checked against the code: every config key and every command is documented."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from newsletter.config import Config
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        for arg in get_args(annotation):
            found.extend(_models(arg))
    return found


def config_keys(model: type[BaseModel] = Config) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        keys.add(name)
        for inner in _models(field.annotation):
            keys |= config_keys(inner)
    return keys


def test_every_config_key_is_in_the_readme_configuration_section() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+):?`", section))
    missing = config_keys() - documented
    assert not missing, f"config keys missing from README: {sorted(missing)}"
    assert len(config_keys()) > 30


def test_every_command_is_in_the_readme() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "--help"], capture_output=True, text=True, check=True
    )
    commands = re.findall(r"^  (\w+)\s", result.stdout.split("Commands:", 1)[1], re.M)
    assert commands
    for command in commands:
        assert f"`newsletter {command}" in README, command


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"^(pip install -e \"\.\[dev\]\" && python -m pytest)", README, re.M)
    assert command is not None
    assert command.group(1).split("&& ")[1] in ci
