"""Messages in/out per module, read from the hub's edgeHub-named Prometheus counters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

RECEIVED = "edgehub_messages_received_total"  # messages the hub received from a module (its "out")
SENT = "edgehub_messages_sent_total"  # messages the hub delivered to a module (its "in")
_FROM_LABELS: tuple[str, ...] = ("from", "id")
_TO_LABELS: tuple[str, ...] = ("to",)


@dataclass(frozen=True)
class Counts:
    """Messages a module sent to the hub (out) and received from it (in)."""

    messages_in: int = 0
    messages_out: int = 0


def _is_module(value: str, module: str) -> bool:
    # edgeHub labels name a module as "<device>/<module>"; tolerate a bare "<module>" too.
    return value == module or value.endswith("/" + module)


def message_counts(text: str, modules: Iterable[str]) -> dict[str, Counts]:
    """Sum the hub's counters per module (pure: Prometheus text in, counts out)."""
    names = list(modules)
    totals = {name: [0.0, 0.0] for name in names}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels: tuple[str, ...]
            if sample.name == RECEIVED:
                labels, slot = _FROM_LABELS, 1
            elif sample.name == SENT:
                labels, slot = _TO_LABELS, 0
            else:
                continue
            for label in labels:
                value = sample.labels.get(label)
                if value is None:
                    continue
                for name in names:
                    if _is_module(value, name):
                        totals[name][slot] += sample.value
                break
    return {name: Counts(int(got), int(sent)) for name, (got, sent) in totals.items()}
