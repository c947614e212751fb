"""What every contract is: a strict msgspec Struct with its envelope kind and schema version."""

from __future__ import annotations

from typing import ClassVar

import msgspec


class Contract(msgspec.Struct, kw_only=True, rename="camel"):
    """A message body that crosses an edgeHub route inside the version-1 envelope.

    Subclasses set `KIND` (the envelope's `kind`, also the contract's name in `module.json`) and
    `VERSION` (bumped on an incompatible change); fields are snake_case in Python, camelCase on the wire.
    """

    KIND: ClassVar[str]
    VERSION: ClassVar[int] = 1
