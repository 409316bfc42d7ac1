"""The docstrings laneway's models put under their fields, for `laneway explain`.

The kinds document a field with a string right below it (`drain_timeout: str | None = None`
then `\"\"\"How long ...\"\"\"`); pydantic leaves those out of the JSON schema unless every model is
built with `use_attribute_docstrings`, which would read every module's source on each import of
laneway. `explain` reads them itself, only when it runs: each model module's source is parsed
once with `ast`, and the docs are keyed by the schema component's name (the class name) and the
field's wire name (its alias), inherited fields included.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Mapping
from types import ModuleType

from pydantic import BaseModel

FieldDocs = Mapping[str, Mapping[str, str]]
"""Component (class) name -> field wire name -> the field's docstring."""

MODEL_PACKAGES = ("laneway.api.kinds",)
MODEL_MODULES = ("laneway.api.meta", "laneway.api.selectors")


def attribute_docstrings(source: str) -> dict[str, dict[str, str]]:
    """Class name -> attribute name -> the string literal right after its annotated assignment (pure)."""
    out: dict[str, dict[str, str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        docs: dict[str, str] = {}
        for before, after in zip(node.body, node.body[1:]):
            if (
                isinstance(before, ast.AnnAssign)
                and isinstance(before.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[before.target.id] = inspect.cleandoc(after.value.value)
        if docs:
            out[node.name] = docs
    return out


def _modules() -> list[ModuleType]:
    modules = [importlib.import_module(name) for name in MODEL_MODULES]
    for package_name in MODEL_PACKAGES:
        package = importlib.import_module(package_name)
        modules.append(package)
        for info in pkgutil.iter_modules(package.__path__, package_name + "."):
            modules.append(importlib.import_module(info.name))
    return modules


def _models(modules: Iterable[ModuleType]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                seen.setdefault(value.__name__, value)
    return list(seen.values())


def field_docs() -> dict[str, dict[str, str]]:
    """Every model's field docstrings by component name and wire name (reads the modules' source)."""
    modules = _modules()
    by_class: dict[tuple[str, str], dict[str, str]] = {}
    for module in modules:
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            continue  # no source shipped (a zipped install): explain shows types alone
        for class_name, found in attribute_docstrings(source).items():
            by_class[(module.__name__, class_name)] = found
    out: dict[str, dict[str, str]] = {}
    for model in _models(modules):
        docs: dict[str, str] = {}
        for base in reversed(model.__mro__):  # a subclass's own docs win over its bases'
            for attribute, text in by_class.get((base.__module__, base.__name__), {}).items():
                field = model.model_fields.get(attribute)
                if field is not None:
                    docs[field.alias or attribute] = text
        if docs:
            out[model.__name__] = docs
    return out
