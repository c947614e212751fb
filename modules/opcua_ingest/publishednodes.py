"""OPC Publisher's publishednodes.json: each field honoured or refused, grouped into subscriptions."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from edgeloop_runtime.errors import ConfigError

from .entries import Entry, timespan_ms
from .plan import (
    DEFAULT_PUBLISHING_MS,
    DEFAULT_SAMPLING_MS,
    MAX_NODES_PER_SUBSCRIPTION,
    EndpointPlan,
    IngestPlan,
    NodePlan,
    SubscriptionPlan,
)
from .schema import HONOURED_ENTRY, HONOURED_NODE, REFUSED_ENTRY, REFUSED_NODE, refusals


def _ms(number: float | None, timespan: str | None, default: float) -> float:
    """An interval in ms; the Timespan spelling wins when both are given (as OPC Publisher documents)."""
    if timespan is not None:
        return timespan_ms(timespan)
    if number is not None:
        return number
    return default


def _security(entry: Entry) -> Literal["None", "SignAndEncrypt", "Sign", "Best"]:
    mode = entry.security_mode
    if mode is None:
        if entry.security_policy not in (None, "None"):
            return "SignAndEncrypt"  # a policy asks for security even without UseSecurity
        return "SignAndEncrypt" if entry.use_security else "None"
    return mode


def _plan_entry(entry: Entry, index: int) -> tuple[EndpointPlan, list[str]]:
    errors: list[str] = []
    if entry.auth_mode == "UsernamePassword" and not (entry.username and entry.password is not None):
        errors.append(f"[{index}] OpcAuthenticationMode UsernamePassword needs a username and password")
    if entry.auth_mode == "Certificate" and not entry.username:
        errors.append(
            f"[{index}] OpcAuthenticationMode Certificate needs OpcAuthenticationUsername: the subject "
            "(or CN) of the user certificate in <PKI_DIR>/user/certs"
        )
    writer = entry.writer_id or entry.writer_group or entry.endpoint_url
    group = entry.writer_group or writer
    if _security(entry) == "None" and entry.security_policy not in (None, "None"):
        errors.append(f"[{index}] EndpointSecurityMode None contradicts EndpointSecurityPolicy")
    try:
        default_pub = _ms(entry.publishing_ms, entry.publishing_timespan, DEFAULT_PUBLISHING_MS)
    except ValueError as exc:
        errors.append(f"[{index}] DataSetPublishingIntervalTimespan: {exc}")
        default_pub = DEFAULT_PUBLISHING_MS
    try:
        item_watchdog_s = _ms(None, entry.item_watchdog, 0.0) / 1000.0
    except ValueError as exc:
        errors.append(f"[{index}] OpcNodeWatchdogTimespan: {exc}")
        item_watchdog_s = 0.0
    try:
        metadata_ms = _ms(entry.metadata_ms, entry.metadata_timespan, 0.0)
    except ValueError as exc:
        errors.append(f"[{index}] MetaDataUpdateTimeTimespan: {exc}")
        metadata_ms = 0.0
    try:
        default_sampling = _ms(entry.sampling_ms, entry.sampling_timespan, DEFAULT_SAMPLING_MS)
    except ValueError as exc:
        errors.append(f"[{index}] DataSetSamplingIntervalTimespan: {exc}")
        default_sampling = DEFAULT_SAMPLING_MS
    try:  # DefaultHeartbeatInterval is in ms, a node's HeartbeatInterval in seconds (as in OPC Publisher)
        default_heartbeat_s = _ms(entry.default_heartbeat_ms, entry.default_heartbeat_timespan, 0.0) / 1000.0
    except ValueError as exc:
        errors.append(f"[{index}].DefaultHeartbeatIntervalTimespan: {exc}")
        default_heartbeat_s = 0.0
    by_interval: dict[float, list[NodePlan]] = {}
    for j, node in enumerate(entry.nodes):
        try:
            pub = _ms(node.publishing_ms, node.publishing_timespan, default_pub)
            sampling = _ms(node.sampling_ms, node.sampling_timespan, default_sampling)
            heartbeat = (
                _ms(node.heartbeat_s, None, default_heartbeat_s)
                if node.heartbeat_timespan is None
                else (timespan_ms(node.heartbeat_timespan) / 1000.0)
            )
        except ValueError as exc:
            errors.append(f"[{index}].OpcNodes[{j}]: {exc}")
            continue
        if node.deadband_type and node.deadband_value is None:
            errors.append(f"[{index}].OpcNodes[{j}]: DeadbandType needs a DeadbandValue")
        if node.deadband_type == "Percent" and (node.deadband_value or 0) > 100:
            errors.append(f"[{index}].OpcNodes[{j}]: a Percent deadband is at most 100")
        by_interval.setdefault(pub, []).append(
            NodePlan(
                node_id=node.id,
                field=node.field_id or node.display_name or node.id,
                sampling_ms=sampling,
                queue_size=node.queue_size,
                trigger=node.trigger,
                deadband_type=node.deadband_type,
                deadband_value=node.deadband_value or 0.0,
                heartbeat_s=heartbeat,
                skip_first=node.skip_first,
                attribute=node.attribute,
                index_range=node.index_range,
                discard_new=node.discard_new,
                heartbeat_behavior=(
                    node.heartbeat_behavior
                    if "heartbeat_behavior" in node.model_fields_set
                    or entry.default_heartbeat_behavior is None
                    else entry.default_heartbeat_behavior
                ),
                cyclic=node.cyclic and node.event_filter is None,
                event_selects=node.event_filter.selects() if node.event_filter else (),
                event_type=node.event_filter.type_definition_id if node.event_filter else None,
                event_where=node.event_filter.where() if node.event_filter else None,
            )
        )
    subs: list[SubscriptionPlan] = []
    for pub, nodes in sorted(by_interval.items()):
        for start in range(0, len(nodes), MAX_NODES_PER_SUBSCRIPTION):
            chunk = tuple(nodes[start : start + MAX_NODES_PER_SUBSCRIPTION])
            subs.append(
                SubscriptionPlan(
                    writer, group, pub, chunk, entry.send_keepalive, entry.key_frame_count, metadata_ms,
                    entry.dataset_name, entry.dataset_description, item_watchdog_s,
                    entry.item_watchdog_condition == "WhenAllAreLate", entry.max_keepalive_count or 0,
                )
            )  # fmt: skip
    plan = EndpointPlan(
        url=entry.endpoint_url,
        security_mode=_security(entry),
        auth_mode=entry.auth_mode,
        username=entry.username,
        password=entry.password,
        subscriptions=tuple(subs),
        security_policy=entry.security_policy,
        watchdog_behavior=entry.watchdog_behavior,
    )
    return plan, errors


def _first_error(exc: ValidationError, index: int) -> str:
    err = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    return f"[{index}]{loc}: {err['msg']}"


def _field_refusals(raw: Any, index: int) -> list[str]:
    """Fields of one raw entry (and its nodes) that are refused or unknown."""
    if not isinstance(raw, dict):
        return []
    problems = refusals(raw, HONOURED_ENTRY, REFUSED_ENTRY, f"[{index}]")
    nodes = raw.get("OpcNodes")
    for j, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict):
            problems += refusals(node, HONOURED_NODE, REFUSED_NODE, f"[{index}].OpcNodes[{j}]")
    return problems


def parse_published_nodes(doc: Any, origin: str = "publishedNodes") -> IngestPlan:
    """Validate a publishednodes.json document and group it.

    An entry with a problem (a refused field, a bad value, a field name that repeats in its writer) is left
    out, with its reason in `IngestPlan.refused`, and the rest is served. ConfigError, naming every problem,
    only when nothing at all can be served.
    """
    if not isinstance(doc, list):
        raise ConfigError("expected a JSON array of endpoint entries", field=origin)
    refused: list[str] = []
    sessions: dict[tuple[str, str, str | None, str, str | None], list[SubscriptionPlan]] = {}
    firsts: dict[tuple[str, str, str | None, str, str | None], EndpointPlan] = {}
    fields_seen: dict[str, set[str]] = {}
    batching: dict[str, Any] = {}
    for i, raw in enumerate(doc):
        problems = _field_refusals(raw, i)
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            refused += [*problems, _first_error(exc, i)]
            continue
        plan, more = _plan_entry(entry, i)
        problems += more + _field_clashes(plan, fields_seen) + _batching(entry, i, batching)
        if problems:
            refused += problems
            continue
        batching.update(_batch_fields(entry))
        for writer, names in plan.writers().items():
            fields_seen.setdefault(writer, set()).update(names)
        firsts.setdefault(plan.key, plan)
        sessions.setdefault(plan.key, []).extend(plan.subscriptions)
    endpoints = [
        replace(firsts[key], subscriptions=_merge_subscriptions(subs)) for key, subs in sessions.items()
    ]
    if refused and not endpoints:
        raise ConfigError(
            "; ".join(refused[:10]) + (f" (and {len(refused) - 10} more)" if len(refused) > 10 else ""),
            field=origin,
        )
    return IngestPlan(
        tuple(endpoints), tuple(refused), batching.get("BatchSize"), batching.get("BatchTriggerInterval")
    )


def _batch_fields(entry: Entry) -> dict[str, Any]:
    """The batching fields an entry sets (BatchTriggerInterval in ms, from either spelling)."""
    out: dict[str, Any] = {}
    if entry.batch_size is not None:
        out["BatchSize"] = entry.batch_size
    if entry.batch_trigger_timespan is not None or entry.batch_trigger_ms is not None:
        out["BatchTriggerInterval"] = _ms(entry.batch_trigger_ms, entry.batch_trigger_timespan, 0.0)
    return out


def _batching(entry: Entry, index: int, first: dict[str, Any]) -> list[str]:
    """An entry whose BatchSize / BatchTriggerInterval differ from an earlier entry's is refused: the module
    batches its one output once, for every writer."""
    try:
        mine = _batch_fields(entry)
    except ValueError as exc:
        return [f"[{index}].BatchTriggerIntervalTimespan: {exc}"]
    return [
        f"[{index}].{name}: refused, {value!r} differs from {first[name]!r} set by an earlier entry "
        "(batching is one setting for the module's one output)"
        for name, value in mine.items()
        if name in first and first[name] != value
    ]


def _merge_subscriptions(subs: list[SubscriptionPlan]) -> tuple[SubscriptionPlan, ...]:
    """Entries that repeat a writer id and interval on one endpoint share its subscription."""
    merged: dict[tuple[str, float], list[NodePlan]] = {}
    firsts: dict[tuple[str, float], SubscriptionPlan] = {}
    for s in subs:
        merged.setdefault((s.writer_id, s.publishing_ms), []).extend(s.nodes)
        firsts.setdefault((s.writer_id, s.publishing_ms), s)
    return tuple(
        replace(firsts[key], nodes=tuple(nodes[start : start + MAX_NODES_PER_SUBSCRIPTION]))
        for key, nodes in merged.items()
        for start in range(0, len(nodes), MAX_NODES_PER_SUBSCRIPTION)
    )


def _field_clashes(plan: EndpointPlan, seen: dict[str, set[str]]) -> list[str]:
    """A field name (DataSetFieldId or DisplayName) must be unique within its data set writer (the asset)."""
    errors = []
    for writer, fields in plan.writers().items():
        names = set(seen.get(writer, ()))
        for name in fields:
            if name in names:
                errors.append(f"DataSetWriterId {writer!r}: field {name!r} appears twice")
            names.add(name)
    return errors


def read_published_nodes_file(path: Path) -> Any:
    """The JSON document in the file named by PUBLISHED_NODES_FILE, unvalidated."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", field="PUBLISHED_NODES_FILE") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            field="PUBLISHED_NODES_FILE",
        ) from exc


def write_published_nodes_file(path: Path, doc: list[Any]) -> None:
    """Persist a document (the configuration methods' changes) atomically, as OPC Publisher keeps its file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_published_nodes_file(path: Path) -> IngestPlan:
    """Read and validate the file named by PUBLISHED_NODES_FILE."""
    return parse_published_nodes(read_published_nodes_file(path), origin="PUBLISHED_NODES_FILE")
