"""Writes docs/configuration.md from the config's pydantic models (`ganguard.config`,
`ganguard.options`): every key with its type, default, limits and meaning.

    python docs/configuration.py          # rewrite docs/configuration.md
    python docs/configuration.py --check  # exit 1 if it is not current

tests/test_docs.py fails when the page is stale, so a changed option cannot go undocumented.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ganguard.config import Config, DataConfig, ModelConfig, TrainConfig, dump_config
from ganguard.options import MethodOptions
from ganguard.tables import markdown

PAGE = Path(__file__).with_name("configuration.md")

INTRO = """\
# Configuration

A run is described by one YAML file with five parts: `seed`, `data`, `model`, `train` and
`method`. Every key has a default, so a file names only what it changes; `ganguard train
CONFIG.yaml --set key=value` changes a key from the command line (values are read as YAML:
`--set train.lr_d=1e-3 --set model.spectral_norm=false`). The resolved config, every key
included, is saved as `RUN_DIR/config.yaml`.

Unknown keys and impossible values are errors that name the key, for example
`config key method.lamda: unknown key`; an option that was removed or renamed says so
(`config key method.discriminator_critic_batch: renamed to method.critic_batch`). Validating a
config loads neither torch nor Opacus. The ready configs in `configs/` are starting points; the
equations the method options enter are in [methods.md](methods.md), the data sets in
[datasets.md](datasets.md).

This page is generated from the code by `python docs/configuration.py`; a test fails when it is
not current.
"""


def type_name(annotation: Any) -> str:
    """A field's type as a reader writes it: `int`, `float or none`, `fano | entropy`, ..."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        parts = [type_name(a) for a in args]
        if len(args) < len(typing.get_args(annotation)):
            parts.append("none")
        return " or ".join(parts)
    if origin is list:
        return f"list of {type_name(typing.get_args(annotation)[0])}"
    return getattr(annotation, "__name__", str(annotation))


def limits(field: FieldInfo) -> str:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found = []
    for item in field.metadata:
        for key, sign in signs.items():
            value = getattr(item, key, None)
            if value is not None:
                found.append(f"{sign} {value:g}")
    return ", ".join(found) or "–"


def default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return f"`{value}`" if isinstance(value, str) else str(value)


def key_table(model: type[BaseModel], prefix: str, skip: tuple[str, ...] = ()) -> str:
    rows = [[f"`{prefix}{name}`", type_name(field.annotation), default(field), limits(field),
             field.description or ""]
            for name, field in model.model_fields.items() if name not in skip]  # fmt: skip
    return markdown(["key", "type", "default", "limits", "meaning"], rows)


def render() -> str:
    parts = [INTRO, "## Top level\n", key_table(Config, "", skip=("data", "model", "train",
                                                                     "method")), ""]  # fmt: skip
    for title, model, prefix in (("`data`: the data set and its split", DataConfig, "data."),
                                 ("`model`: the networks", ModelConfig, "model."),
                                 ("`train`: the training loop", TrainConfig, "train.")):
        parts += [f"## {title}\n", key_table(model, prefix), ""]
    parts += ["## `method`: the method and its options\n",
              "`method.name` picks the method; the other keys of `method` are that method's "
              "options, listed below (a key of another method is an unknown key).\n"]
    for name, options in MethodOptions.registry.items():
        doc = " ".join((options.__doc__ or "").split("\n\n")[0].split())
        parts.append(f"### `{name}`\n")
        if doc and options is not MethodOptions:
            parts.append(doc + "\n")
        if len(options.model_fields) == 1:
            parts.append("No options besides `name`.\n")
        else:
            parts += [key_table(options, "method.", skip=("name",)), ""]
        if options.removed:
            gone = "; ".join(f"`{k}` ({why})" for k, why in options.removed.items())
            parts.append(f"No longer accepted: {gone}.\n")
    parts += ["## Every default\n", "`ganguard train` with an empty file trains this config "
              "(the GAN on `mnist-5k`):\n", "```yaml", dump_config(Config()).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    page = render()
    if args.check:
        current = PAGE.exists() and PAGE.read_text() == page
        print(f"{PAGE}: {'current' if current else 'stale: run python docs/configuration.py'}")
        return 0 if current else 1
    PAGE.write_text(page)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
