"""Each lint rule: the small valid manifest is clean, and breaking one thing gives one clear finding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.lint import lint_manifest
from edgeloop_dev.manifest.render import RenderOptions, render_manifest

Mutation = Callable[[dict[str, Any]], None]
AGENT = "modulesContent.$edgeAgent.properties.desired"


def agent(m: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = m["modulesContent"]["$edgeAgent"]["properties.desired"]
    return result


def routes(m: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = m["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    return result


def route_text(m: dict[str, Any], name: str, text: str) -> None:
    routes(m)[name] = text


def sink(module: str, name: str) -> str:
    return f'BrokeredEndpoint("/modules/{module}/inputs/{name}")'


def test_the_base_template_is_clean(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo], schema: Any
) -> None:
    assert lint_manifest(manifest, catalog, schema, template=True) == []


def test_the_base_rendered_is_clean(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo], schema: Any
) -> None:
    rendered = render_manifest(
        manifest, catalog, RenderOptions("amd64", variables={"CONTAINER_REGISTRY_ADDRESS": "r.io"})
    )
    assert lint_manifest(rendered, catalog, schema, template=False) == []


CASES = [
    pytest.param(
        lambda m: agent(m)["modules"]["producer"].update(restartPolicy="sometimes"),
        "schema",
        f"{AGENT}.modules.producer.restartPolicy",
        "'sometimes' is not one of",
        id="schema-restart-policy",
    ),
    pytest.param(
        lambda m: m["modulesContent"].pop("$edgeHub"),
        "schema",
        "modulesContent",
        "'$edgeHub' is a required property",
        id="schema-missing-edgehub",
    ),
    pytest.param(
        lambda m: (
            agent(m).update(schemaVersion="1.0"),
            agent(m)["modules"]["consumer"].pop("startupOrder"),
            agent(m)["modules"]["vendor"].pop("startupOrder"),
        ),
        "schema",
        f"{AGENT}.modules.producer",
        "startupOrder needs $edgeAgent schemaVersion 1.1",
        id="schema-startup-order-needs-agent-1.1",
    ),
    pytest.param(
        lambda m: (
            m["modulesContent"]["$edgeHub"]["properties.desired"].update(schemaVersion="1.0"),
            routes(m).update(up="FROM /messages/modules/consumer/outputs/* INTO $upstream"),
        ),
        "schema",
        "modulesContent.$edgeHub.properties.desired.routes.readings",
        "route objects (priority, timeToLiveSecs) need $edgeHub schemaVersion 1.1",
        id="schema-object-routes-need-hub-1.1",
    ),
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["env"].update(X={"value": {"nested": 1}}),
        "schema",
        f"{AGENT}.modules.producer.env.X.value",
        "is not of type",
        id="schema-env-value-object",
    ),
    pytest.param(
        lambda m: route_text(
            m,
            "frames",
            f"FROM /messages/modules/producer/outputs/frames WHERE a = = 1 INTO {sink('consumer', 'frames')}",
        ),
        "route-syntax",
        "routes.frames",
        "at line 1, column 58",
        id="route-syntax-with-position",
    ),
    pytest.param(
        lambda m: route_text(
            m, "frames", "FROM /messages/modules/producer/outputs/frames WHERE a = 'x INTO $upstream"
        ),
        "route-syntax",
        "routes.frames",
        "unterminated string",
        id="route-syntax-unterminated-string",
    ),
    pytest.param(
        lambda m: route_text(m, "frames", "FROM /messages/modules/producer/outputs/frames INTO $downstream"),
        "route-syntax",
        "routes.frames",
        "only system endpoint is $upstream",
        id="route-syntax-bad-endpoint",
    ),
    pytest.param(
        lambda m: route_text(
            m, "frames", f"FROM /messages/modules/ghost/outputs/frames INTO {sink('consumer', 'frames')}"
        ),
        "route-unknown-module",
        "routes.frames",
        "source names module 'ghost'",
        id="route-source-module-not-in-manifest",
    ),
    pytest.param(
        lambda m: route_text(
            m, "frames", f"FROM /messages/modules/producer/outputs/frames INTO {sink('ghost', 'frames')}"
        ),
        "route-unknown-module",
        "routes.frames",
        "sink names module 'ghost'",
        id="route-sink-module-not-in-manifest",
    ),
    pytest.param(
        lambda m: route_text(
            m, "frames", f"FROM /messages/modules/producer/outputs/framez INTO {sink('consumer', 'frames')}"
        ),
        "route-unknown-output",
        "routes.frames",
        "output 'framez' of producer",
        id="route-output-not-declared",
    ),
    pytest.param(
        lambda m: route_text(
            m, "frames", f"FROM /messages/modules/producer/outputs/frames INTO {sink('consumer', 'images')}"
        ),
        "route-unknown-input",
        "routes.frames",
        "input 'images' of consumer",
        id="route-input-not-declared",
    ),
    pytest.param(
        lambda m: route_text(
            m,
            "frames",
            f"FROM /messages/modules/producer/outputs/frames WHERE $body.width > 10 INTO {sink('consumer', 'frames')}",
        ),
        "route-body-not-json",
        "routes.frames",
        "frames (image/jpeg) is not application/json",
        id="route-body-on-jpeg-output",
    ),
    pytest.param(
        lambda m: route_text(
            m,
            "frames",
            "FROM /messages/modules/producer/outputs/deadletter WHERE IS_DEFINED($body.x) INTO $upstream",
        ),
        "route-body-not-json",
        "routes.frames",
        "deadletter (*) is not application/json",
        id="route-body-on-any-content-output",
    ),
    pytest.param(
        lambda m: route_text(m, "frames", "FROM /messages/modules/*/outputs/frames INTO $upstream"),
        "route-source",
        "routes.frames",
        "matches no message edgeHub produces",
        id="route-source-wildcard-in-the-middle",
    ),
    pytest.param(
        lambda m: routes(m)["readings"].update(priority=10),
        "route-priority",
        "routes.readings.priority",
        "from 0 (highest) to 9, got 10",
        id="route-priority-above-9",
    ),
    pytest.param(
        lambda m: routes(m)["readings"].update(priority=-1),
        "route-priority",
        "routes.readings.priority",
        "got -1",
        id="route-priority-negative",
    ),
    pytest.param(
        lambda m: routes(m)["readings"].update(timeToLiveSecs=-5),
        "route-ttl",
        "routes.readings.timeToLiveSecs",
        "got -5",
        id="route-ttl-negative",
    ),
    pytest.param(
        lambda m: m["modulesContent"]["consumer"]["properties.desired"].update(
            {f"k{i}": "x" * 1000 for i in range(40)}
        ),
        "desired-size",
        "modulesContent.consumer.properties.desired",
        "over the twin's 32 KB",
        id="desired-over-32KB",
    ),
    pytest.param(
        lambda m: m["modulesContent"]["consumer"]["properties.desired"].update(big="é" * 2100),
        "desired-value-size",
        "modulesContent.consumer.properties.desired.big",
        "value is 4200 bytes",
        id="desired-value-over-4KB-in-utf8-bytes",
    ),
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["settings"].update(
            createOptions={"Env": ["X=" + "y" * 4100]}
        ),
        "create-options-size",
        f"{AGENT}.modules.producer.settings.createOptions",
        "9 chunks of 512, over the tooling's 8",
        id="create-options-over-8-chunks",
    ),
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["settings"].update(createOptions='{"HostConfig": '),
        "create-options-json",
        f"{AGENT}.modules.producer.settings.createOptions",
        "not JSON",
        id="create-options-not-json",
    ),
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["settings"].update(image="${MODULES.ghost}"),
        "module-json-missing",
        f"{AGENT}.modules.producer.settings.image",
        "modules/ghost/module.json",
        id="template-image-without-module-json",
    ),
]


@pytest.mark.parametrize(("mutate", "rule", "path", "text"), CASES)
def test_one_broken_thing_gives_one_finding(
    manifest: dict[str, Any],
    catalog: dict[str, ModuleInfo],
    schema: Any,
    mutate: Mutation,
    rule: str,
    path: str,
    text: str,
) -> None:
    mutate(manifest)
    findings = lint_manifest(manifest, catalog, schema, template=True)
    assert [f.rule for f in findings] == [rule], [str(f) for f in findings]
    finding = findings[0]
    assert path in finding.path
    assert text in finding.message
    assert "\n" not in str(finding)
    assert str(finding).startswith(finding.path)


RENDERED_CASES = [
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["settings"].update(image="$CONTAINER_REGISTRY_ADDRESS/x:1"),
        "unresolved-placeholder",
        f"{AGENT}.modules.producer.settings.image",
        "$CONTAINER_REGISTRY_ADDRESS",
        id="unresolved-bare-variable",
    ),
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["env"].update(K={"value": "${MODULES.producer}"}),
        "unresolved-placeholder",
        f"{AGENT}.modules.producer.env.K.value",
        "${MODULES.producer}",
        id="unresolved-module-image",
    ),
    pytest.param(
        lambda m: m["modulesContent"]["consumer"]["properties.desired"].update(key="${SECRET}"),
        "unresolved-placeholder",
        "modulesContent.consumer.properties.desired.key",
        "${SECRET}",
        id="unresolved-in-desired-properties",
    ),
    pytest.param(
        lambda m: agent(m)["modules"]["producer"]["settings"].update(createOptions02=""),
        "create-options-chunks",
        f"{AGENT}.modules.producer.settings",
        "contiguous",
        id="create-options-chunk-gap",
    ),
]


@pytest.mark.parametrize(("mutate", "rule", "path", "text"), RENDERED_CASES)
def test_rendered_manifests_have_no_placeholders_and_whole_chunks(
    manifest: dict[str, Any],
    catalog: dict[str, ModuleInfo],
    schema: Any,
    mutate: Mutation,
    rule: str,
    path: str,
    text: str,
) -> None:
    rendered = render_manifest(
        manifest, catalog, RenderOptions("amd64", variables={"CONTAINER_REGISTRY_ADDRESS": "r.io"})
    )
    mutate(rendered)
    findings = lint_manifest(rendered, catalog, schema, template=False)
    assert [f.rule for f in findings] == [rule], [str(f) for f in findings]
    assert path in findings[0].path
    assert text in findings[0].message


def test_route_syntax_and_manifest_syntax_are_not_confused(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo], schema: Any
) -> None:
    """`$upstream`, `$body` and `$connectionModuleId` in routes are route syntax, never placeholders."""
    routes(manifest)["leaf"] = "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream"
    rendered = render_manifest(
        manifest, catalog, RenderOptions("amd64", variables={"CONTAINER_REGISTRY_ADDRESS": "r.io"})
    )
    assert lint_manifest(rendered, catalog, schema, template=False) == []


def test_several_findings_are_all_reported(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo], schema: Any
) -> None:
    routes(manifest)["readings"]["priority"] = 12
    routes(manifest)["frames"] = "FROM /messages/modules/producer/outputs/frames INTO $upstreamm"
    agent(manifest)["modules"]["producer"]["restartPolicy"] = "sometimes"
    rules = sorted(f.rule for f in lint_manifest(manifest, catalog, schema, template=True))
    assert rules == ["route-priority", "route-syntax", "schema"]
