"""Command-line options generated from the fields of the flows' parameter models.

An option names the model field it sets; its type, choices, default and help come from that
field, and a value is checked against the field's bounds as it is parsed (a bad one ends the
command with argparse's usage error, exit 2, before anything starts). Nothing here repeats a
default or a description of `params`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from params import field_description


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option bound to `model.field`.

    `group` is the flow parameter (a nested model) that holds the field; None for a top-level
    flow parameter. `default` is how the default reads in --help where the command line's own
    default is not the model's (it then comes from settings, or the field is left out); the
    option's value is None when not given.
    """

    flag: str
    model: type[BaseModel]
    field: str
    group: str | None = None
    default: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def info(self):
        return self.model.model_fields[self.field]

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        info = self.info
        kind = _without_none(info.annotation)
        model_default = info.get_default(call_default_factory=True)
        required = model_default is PydanticUndefined and self.default is None
        default = None if self.default is not None or required else model_default
        description = field_description(info) or self.field.replace("_", " ")
        shown = self.default if self.default is not None else _shown(model_default)
        keywords: dict[str, Any] = {"dest": self.dest} if self.flag.startswith("-") else {}
        if kind is bool:
            keywords.update(default=default, action="store_true" if not default else argparse.BooleanOptionalAction)
            shown = self.default or ("on" if default else "off")
        else:
            keywords.update(default=default, type=_parser_for(self.flag, info, kind), metavar=_metavar(self, kind))
            if typing.get_origin(kind) is Literal:
                keywords["choices"] = typing.get_args(kind)
                keywords.pop("metavar")
            if typing.get_origin(kind) is tuple:
                description += " Comma-separated."
        if self.flag.startswith("-"):
            keywords["required"] = required
        help_text = f"{description} (required)" if required else f"{description} (default: {shown})"
        parser.add_argument(self.flag, help=help_text.replace("%", "%%"), **keywords)


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for option in options:
        option.add_to(parser)


def given(args: argparse.Namespace, options: Iterable[Option], group: str | None = None) -> dict[str, Any]:
    """{field: value} of `options` in `group` whose value is set, paths made absolute."""
    values = {}
    for option in options:
        value = getattr(args, option.dest, None)
        if option.group == group and value is not None:
            values[option.field] = value.resolve() if isinstance(value, Path) else value
    return values


def flow_arguments(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """Keyword arguments for the flow: the top-level fields given, and each group's model built
    from the fields given (the rest keep the model's defaults)."""
    options = list(options)
    arguments = given(args, options)
    for group in dict.fromkeys(option.group for option in options if option.group is not None):
        model = next(option.model for option in options if option.group == group)
        arguments[group] = model(**given(args, options, group))
    return arguments


def _without_none(annotation: Any) -> Any:
    """`X | None` -> X: on the command line None is the option left out."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _parser_for(flag: str, info, kind: Any):
    """Text -> value of the field, checked against its type and bounds."""
    adapter = TypeAdapter(Annotated[(kind, *info.metadata)] if info.metadata else kind)
    is_tuple = typing.get_origin(kind) is tuple

    def parse(text: str):
        value: Any = [part.strip() for part in text.split(",") if part.strip()] if is_tuple else text
        try:
            return adapter.validate_python(value)
        except ValidationError as error:
            problems = "; ".join(item["msg"].removeprefix("Value error, ") for item in error.errors())
            raise argparse.ArgumentTypeError(f"{text!r}: {problems}") from None

    parse.__name__ = flag.lstrip("-")  # argparse names the type in its "invalid value" message
    return parse


def _metavar(option: Option, kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return f"{option.dest.upper()}[,...]"
    return option.dest.upper()


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)
