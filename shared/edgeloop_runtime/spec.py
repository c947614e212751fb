"""A module's declaration as plain data: name, settings and state classes, inputs, methods, hooks, tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .inputs import InputSpec
from .messages import InputMessage
from .settings import ModuleSettings

if TYPE_CHECKING:
    from .context import Context

S = TypeVar("S", bound=ModuleSettings)
T = TypeVar("T")

# What each kind of handler looks like, for a module with settings S and state T.
InputFunc = Callable[["Context[S, T]", InputMessage], Awaitable[None]]
MethodFunc = Callable[["Context[S, T]", Any], Awaitable[Any]]
ConfigHook = Callable[["Context[S, T]", S], Awaitable[None]]
StartHook = Callable[["Context[S, T]"], Awaitable[T]]
Hook = Callable[["Context[S, T]"], Awaitable[None]]
StatusProvider = Callable[["Context[S, T]"], dict[str, Any]]


@dataclass(eq=False)
class ModuleSpec(Generic[S, T]):
    """Everything the runner needs to run a module; `Module` fills one in with its decorators.

    `state_cls` is the type of what `start` (the `on_start` hook) returns: the module's own long-lived
    objects, which every handler then reads as `ctx.state`. A module without state has `NoneType`.
    """

    name: str
    settings_cls: type[S]
    state_cls: type[T]
    version: str = "0.0.0"
    fail_safe: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    methods: dict[str, MethodFunc[S, T]] = field(default_factory=dict)
    config_hooks: list[ConfigHook[S, T]] = field(default_factory=list)
    start: StartHook[S, T] | None = None
    stop_hooks: list[Hook[S, T]] = field(default_factory=list)
    tasks: dict[str, Hook[S, T]] = field(default_factory=dict)
    status_providers: list[StatusProvider[S, T]] = field(default_factory=list)
