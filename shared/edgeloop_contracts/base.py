"""What every contract is: a strict msgspec Struct with its envelope kind, schema version and codec."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self, TypeVar

import msgspec

T = TypeVar("T")
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


class Contract(msgspec.Struct, kw_only=True, rename="camel"):
    """A message body that crosses an edgeHub route inside the version-1 envelope.

    Subclasses set `KIND` (the envelope's `kind`, also the contract's name in `module.json`) and
    `VERSION` (bumped on an incompatible change); fields are snake_case in Python, camelCase on the wire.
    A field that is sometimes absent on the wire (not null) defaults to `msgspec.UNSET`.
    """

    KIND: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def encode(self) -> bytes:
        """The body as compact UTF-8 JSON (what goes in the envelope's `data`)."""
        return _ENCODER.encode(self)

    def to_data(self) -> dict[str, Any]:
        """The body as plain JSON data (dicts and lists), keys as on the wire."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        """Parse JSON bytes strictly; ContractError naming the field on a wrong type or a missing field."""
        return decode_json(raw, cls, cls.KIND)

    @classmethod
    def from_data(cls, data: object) -> Self:
        """Check already parsed JSON data (an envelope's `data`) strictly, as `decode` does."""
        return convert(data, cls, cls.KIND)


def decode_json(raw: bytes | str, typ: type[T], what: str) -> T:
    """Decode JSON into `typ`; any problem is a ContractError that says where (`$.field`) it is."""
    decoder = _DECODERS.get(typ)
    if decoder is None:
        decoder = _DECODERS[typ] = msgspec.json.Decoder(typ)
    try:
        value: T = decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise contract_error(f"{what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise contract_error(f"{what}: not valid JSON ({exc})") from exc
    return value


def convert(data: object, typ: type[T], what: str) -> T:
    """Check parsed JSON data against `typ` (no coercion between types); ContractError says where."""
    try:
        return msgspec.convert(data, typ, strict=True)
    except msgspec.ValidationError as exc:
        raise contract_error(f"{what}: {exc}") from exc


def contract_error(message: str) -> Exception:
    # Imported here: the runtime's context imports this module, so it cannot import the runtime first.
    from edgeloop_runtime.errors import ContractError

    return ContractError(message)


def require_finite(kind: str, field: str, *values: float | None) -> None:
    """JSON has no NaN or infinity (msgspec would write null): a contract refuses them where it is built,
    as `json.dumps(allow_nan=False)` did when the message was sent."""
    for value in values:
        if value is not None and not math.isfinite(value):
            raise contract_error(f"{kind}: `{field}` must be a finite number, got {value!r}")


def encode(obj: object) -> bytes:
    """Any contract, envelope or plain JSON data as compact UTF-8 JSON."""
    return _ENCODER.encode(obj)
