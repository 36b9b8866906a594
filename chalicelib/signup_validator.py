"""The signup body validated by pydantic_core alone: the signup's cold start without pydantic.

``models.SignupRequest`` stays the described contract of a signup. Importing pydantic and
building that model costs a cold signup about a third of the baseline; pydantic_core, the
engine pydantic validates with, costs a tenth (docs/operations.md, Performance). This is the
same core schema pydantic builds for SignupRequest, written out, calling the same checks
(chalicelib/fields.py): tests/test_signup_validator.py holds both to the same answers,
values and field errors over generated bodies. A change to one is a change to both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from chalicelib.fields import (
    MAX_LANG,
    blank_to_none,
    clean_name,
    normalise_email,
    spoken,
    unique_purposes,
)

__all__ = ["Signup", "ValidationError", "validate_signup"]


@dataclass(frozen=True)
class Signup:
    """A valid signup body: the fields of models.SignupRequest."""

    email: str
    name: str | None
    lang: str | None
    purposes: list[str]
    website: str | None


def _optional(schema: cs.CoreSchema) -> cs.TypedDictField:
    return cs.typed_dict_field(cs.with_default_schema(schema, default=None), required=False)


@cache
def _validator() -> SchemaValidator:
    """Built on the first signup a container serves, once."""
    purpose_id = cs.str_schema(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    fields = {
        "email": cs.typed_dict_field(cs.no_info_before_validator_function(normalise_email, cs.str_schema())),
        "name": _optional(
            cs.no_info_before_validator_function(clean_name, cs.nullable_schema(cs.str_schema()))
        ),
        "lang": _optional(
            cs.no_info_after_validator_function(
                spoken,
                cs.no_info_before_validator_function(
                    blank_to_none, cs.nullable_schema(cs.str_schema(max_length=MAX_LANG))
                ),
            )
        ),
        "purposes": cs.typed_dict_field(
            cs.no_info_after_validator_function(
                unique_purposes("tick at least one purpose"),
                cs.list_schema(purpose_id, max_length=20),
            )
        ),
        "website": _optional(cs.nullable_schema(cs.str_schema(max_length=200))),
    }
    config = cs.CoreConfig(extra_fields_behavior="ignore", str_strip_whitespace=True)
    return SchemaValidator(cs.typed_dict_schema(fields, extra_behavior="ignore", config=config))


def validate_signup(data: dict[str, Any]) -> Signup:
    """The signup in ``data``, or pydantic_core's ValidationError (fields.field_errors words it)."""
    return Signup(**_validator().validate_python(data))
