"""The runtime at edgeHub's 256 KB boundary: a bad message just under the limit must still reach the
dead-letter output (the fuzz strategies keep inputs below MAX_INPUT_BYTES so they test the rest)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fuzz_harness import LiveModule
from fuzz_modules import ALL, module_env

from edgeloop_runtime.envelope import MAX_MESSAGE_BYTES


@pytest.mark.parametrize("size", [pytest.param(200_000, id="200KB"), pytest.param(250_000, id="250KB")])
def test_a_bad_message_well_under_the_limit_is_dead_lettered(
    live: Callable[..., LiveModule], size: int
) -> None:
    m = live(ALL["example_module"], module_env("example_module", live.tmp))  # type: ignore[attr-defined]
    outcome = m.deliver("values", b"{" + b"x" * size)
    assert outcome.deadlettered and m.alive()


def test_a_bad_message_at_the_limit_is_still_dead_lettered(live: Callable[..., LiveModule]) -> None:
    m = live(ALL["example_module"], module_env("example_module", live.tmp))  # type: ignore[attr-defined]
    # edgeHub accepts it from the sender (body + its few system properties + 512 overhead < 256 KB)
    body = b"{" + b"x" * (MAX_MESSAGE_BYTES - 512 - 300)
    outcome = m.deliver("values", body)
    assert m.alive()
    assert outcome.deadlettered, "the message is lost: neither handled nor dead-lettered"
