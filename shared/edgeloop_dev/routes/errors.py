"""RouteError: a route that cannot be parsed, typed or configured, with its name, text and position."""

from __future__ import annotations

from edgeloop_runtime.errors import ConfigError


class RouteError(ConfigError):
    """A route (or the `$edgeHub` route configuration) that edgeHub would refuse: invalid configuration.

    `line` and `column` are 1-based positions in `route_text` (None when the problem is not at a
    position, e.g. a bad priority).
    """

    def __init__(
        self,
        message: str,
        *,
        route_name: str = "",
        route_text: str = "",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.route_name = route_name
        self.route_text = route_text
        self.line = line
        self.column = column
        super().__init__(self._render())
        self.field = f"routes.{route_name}" if route_name else None

    def with_route(self, route_name: str, route_text: str | None = None) -> RouteError:
        """The same error, naming the route (and its text, when given)."""
        return RouteError(
            self.message,
            route_name=route_name,
            route_text=self.route_text if route_text is None else route_text,
            line=self.line,
            column=self.column,
        )

    def _render(self) -> str:
        where = f"route {self.route_name!r}" if self.route_name else "route"
        text = f"{where}: {self.message}"
        if self.line is not None and self.column is not None:
            text += f" (line {self.line}, column {self.column})"
            lines = self.route_text.splitlines() or [""]
            if 1 <= self.line <= len(lines):
                src = lines[self.line - 1]
                text += f"\n    {src}\n    {' ' * (self.column - 1)}^"
        elif self.route_text:
            text += f"\n    {self.route_text}"
        return text


def position_of(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a 0-based character offset in `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1
