"""A module's declaration as plain data: name, settings class, inputs, methods, hooks and tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .inputs import InputSpec
from .settings import ModuleSettings

if TYPE_CHECKING:
    from .context import Context

S = TypeVar("S", bound=ModuleSettings)

MethodFunc = Callable[["Context[Any]", Any], Awaitable[Any]]
ConfigHook = Callable[["Context[Any]", Any], Awaitable[None]]
Hook = Callable[["Context[Any]"], Awaitable[None]]
StatusProvider = Callable[["Context[Any]"], dict[str, Any]]


@dataclass(eq=False)
class ModuleSpec(Generic[S]):
    """Everything the runner needs to run a module; `Module` fills one in with its decorators."""

    name: str
    settings_cls: type[S]
    version: str = "0.0.0"
    fail_safe: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    methods: dict[str, MethodFunc] = field(default_factory=dict)
    config_hooks: list[ConfigHook] = field(default_factory=list)
    start_hooks: list[Hook] = field(default_factory=list)
    stop_hooks: list[Hook] = field(default_factory=list)
    tasks: dict[str, Hook] = field(default_factory=dict)
    status_providers: list[StatusProvider] = field(default_factory=list)
