"""OPC Publisher's EventFilter WhereClause (a Part 4 ContentFilter in JSON), validated before any session."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Operators an event filter may use (Part 4, 7.7.3) with their operand counts (min, max; None: any above min).
OPERATORS: dict[str, tuple[int, int | None]] = {
    "Equals": (2, 2), "IsNull": (1, 1), "GreaterThan": (2, 2), "LessThan": (2, 2),
    "GreaterThanOrEqual": (2, 2), "LessThanOrEqual": (2, 2), "Like": (2, 2), "Not": (1, 1),
    "Between": (3, 3), "InList": (2, None), "And": (2, 2), "Or": (2, 2), "Cast": (2, 2),
    "BitwiseAnd": (2, 2), "BitwiseOr": (2, 2), "OfType": (1, 1),
}  # fmt: skip
Literal_ = str | bool | int | float | None


class FilterOperand(BaseModel):
    """One operand as OPC Publisher writes it: `Index` (another element), `Value` (a literal), or
    `NodeId`/`BrowsePath`/`AttributeId`/`IndexRange` (an event field, a SimpleAttributeOperand)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    index: int | None = Field(default=None, alias="Index", ge=0)
    value: Literal_ = Field(default=None, alias="Value")
    node_id: str | None = Field(default=None, alias="NodeId", min_length=1)
    browse_path: tuple[str, ...] | None = Field(default=None, alias="BrowsePath")
    attribute_id: Literal["Value", "NodeId"] | None = Field(default=None, alias="AttributeId")
    index_range: str | None = Field(default=None, alias="IndexRange")
    alias: str | None = Field(default=None, alias="Alias")

    @model_validator(mode="after")
    def _one_kind(self) -> FilterOperand:
        if self.alias is not None:
            raise ValueError(
                "Alias (an AttributeOperand) is refused: event filters take SimpleAttributeOperands"
            )
        kinds = [
            self.index is not None,
            "value" in self.model_fields_set,
            bool(self.node_id or self.browse_path or self.attribute_id or self.index_range),
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "an operand is exactly one of Index (an element), Value (a literal) or "
                "NodeId/BrowsePath/AttributeId (an event field)"
            )
        return self

    @property
    def kind(self) -> Literal["element", "literal", "attribute"]:
        """What the operand refers to."""
        if self.index is not None:
            return "element"
        return "literal" if "value" in self.model_fields_set else "attribute"


class FilterElement(BaseModel):
    """One ContentFilterElement: an operator and its operands."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    operator: str = Field(alias="FilterOperator")
    operands: tuple[FilterOperand, ...] = Field(alias="FilterOperands")

    @model_validator(mode="after")
    def _operands(self) -> FilterElement:
        if self.operator not in OPERATORS:
            raise ValueError(
                f"FilterOperator {self.operator!r} is refused (event filters take {', '.join(OPERATORS)})"
            )
        low, high = OPERATORS[self.operator]
        n = len(self.operands)
        if n < low or (high is not None and n > high):
            want = f"{low}" if low == high else f"at least {low}"
            raise ValueError(f"FilterOperator {self.operator} takes {want} operands, not {n}")
        return self


class WhereClause(BaseModel):
    """The ContentFilter: element 0 is the root; element operands point only forward (no cycles)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    elements: tuple[FilterElement, ...] = Field(default=(), alias="Elements")

    @model_validator(mode="after")
    def _references(self) -> WhereClause:
        for i, element in enumerate(self.elements):
            for op in element.operands:
                if op.index is not None and not i < op.index < len(self.elements):
                    raise ValueError(
                        f"Elements[{i}] refers to element {op.index}: an Index must point to a later "
                        f"element (there are {len(self.elements)})"
                    )
        return self
