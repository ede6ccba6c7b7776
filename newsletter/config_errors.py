"""Turn pydantic's validation errors into `Problem`s that name the file, line and key.

The root model is passed in (`problems_from(exc, document, Config)`), so this module never
imports the config it explains."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from newsletter.checks import SHOWN, did_you_mean, shown
from newsletter.errors import Problem
from newsletter.yamlfile import YamlDocument

_HIDDEN_FIELDS = {"path", "password"}


def problems_from(
    exc: ValidationError, document: YamlDocument, model: type[BaseModel]
) -> list[Problem]:
    """Every error of validating `document` as `model`, located in the file."""
    problems = []
    for error in exc.errors(include_url=False):
        loc, parent = _walk(tuple(error["loc"]), model)
        problems.append(_problem(error, loc, parent, document))
    return problems


def _problem(
    error: Any, loc: tuple[str | int, ...], parent: type[BaseModel] | None, document: YamlDocument
) -> Problem:
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    line = document.line_of(loc, key=True)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        fields = set(parent.model_fields) - _HIDDEN_FIELDS if parent else set()
        message = f"unknown key {shown(name)}{did_you_mean(name, fields)}"
    elif kind == "missing":
        message = "required key is missing"
        line = document.line_of(loc[:-1], key=True)
    elif kind == "union_tag_invalid":
        tag = error["ctx"]["tag"]
        expected = error["ctx"]["expected_tags"].replace("'", "")
        choices = {choice.strip() for choice in expected.split(",")}
        hint = did_you_mean(str(tag), choices)
        message = f"unknown type {shown(tag)}{hint}; expected one of: {expected}"
        loc = (*loc, "type")
        line = document.line_of(loc, key=True)
    elif kind == "union_tag_not_found":
        message = "missing `type:` (arxiv, arxiv_query, huggingface or feed)"
    return Problem(str(document.path), line, _dotted(loc), " ".join(message.split()))


def _walk(
    loc: tuple[Any, ...], model: type[BaseModel]
) -> tuple[tuple[str | int, ...], type[BaseModel] | None]:
    """Drop pydantic's union-tag steps from `loc`; return it with the model holding its last key."""
    clean: list[str | int] = []
    current: Any = model
    parent: type[BaseModel] | None = None
    for part in loc:
        current = _unwrap(current)
        members = _union_members(current)
        if members and isinstance(part, str) and part in members:
            current = members[part]
            continue
        if _is_model(current) and isinstance(part, str):
            parent = current
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif get_origin(current) is list and isinstance(part, int):
            current = get_args(current)[0]
        else:
            current = None
        clean.append(part)
    return tuple(clean), parent


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _union_members(annotation: Any) -> dict[str, type[BaseModel]]:
    if get_origin(annotation) not in (Union, types.UnionType):
        return {}
    members = {}
    for arg in get_args(annotation):
        if _is_model(arg) and "type" in arg.model_fields:
            for tag in get_args(arg.model_fields["type"].annotation):
                members[str(tag)] = arg
    return members


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        name = part if isinstance(part, int) or len(part) <= SHOWN else part[: SHOWN - 3] + "..."
        text += f"[{name}]" if isinstance(name, int) else (f".{name}" if text else name)
    return text
