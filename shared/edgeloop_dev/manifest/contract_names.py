"""module.json's contract names against the registry: each named contract exists, with its content type."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from edgeloop_contracts.registry import ContractInfo

from .catalog import ANY_CONTRACT, ModuleInfo
from .findings import Finding


@dataclass(frozen=True, slots=True)
class Declared:
    """One port's contract as a module.json declares it (`content_type` for outputs only)."""

    module: str
    direction: Literal["inputs", "outputs"]
    port: str
    contract: str
    content_type: str | None = None

    @property
    def where(self) -> str:
        """`modules/<m>/module.json: edgeloop.<direction>.<port>`."""
        return f"modules/{self.module}/module.json: edgeloop.{self.direction}.{self.port}"


def declared(catalog: Mapping[str, ModuleInfo]) -> Iterator[Declared]:
    """Every contract the module.json files name, module by module, inputs then outputs."""
    for name, info in sorted(catalog.items()):
        for port, contract in info.input_contracts.items():
            yield Declared(name, "inputs", port, contract)
        for port, contract in info.output_contracts.items():
            yield Declared(name, "outputs", port, contract, info.outputs.get(port))


def undeclared(catalog: Mapping[str, ModuleInfo]) -> list[str]:
    """`module.direction.port` for each input or output that names no contract (the older forms)."""
    missing: list[str] = []
    for name, info in sorted(catalog.items()):
        missing += [f"{name}.inputs.{p}" for p in info.inputs if p not in info.input_contracts]
        missing += [f"{name}.outputs.{p}" for p in info.outputs if p not in info.output_contracts]
    return missing


def problem(item: Declared, contracts: Mapping[str, ContractInfo]) -> str | None:
    """Why `item` does not fit the registry (an unknown name, another content type), or None."""
    if item.contract == ANY_CONTRACT:
        return None
    info = contracts.get(item.contract)
    if info is None:
        known = ", ".join(sorted(contracts)) or "none"
        return f"contract {item.contract!r} is not in the registry (registered: {known})"
    if item.content_type is not None and item.content_type != info.content_type:
        return (
            f"contentType {item.content_type!r} but contract {item.contract!r} is carried as "
            f"{info.content_type!r}"
        )
    return None


def registry_findings(
    catalog: Mapping[str, ModuleInfo], contracts: Mapping[str, ContractInfo]
) -> list[Finding]:
    """An error for each declared contract the registry does not know, or knows with another content type."""
    found: list[Finding] = []
    for item in declared(catalog):
        why = problem(item, contracts)
        if why is not None:
            found.append(Finding(item.where, "contract-registry", why))
    return found
