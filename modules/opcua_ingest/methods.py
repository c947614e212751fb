"""OPC Publisher 2.9's configuration methods (PublishNodes_V1 ...) as pure edits of a publishednodes document.

Each function takes the current document (the JSON array) and a request payload as OPC Publisher documents
them (docs/opc-publisher/directmethods.md) and returns the new document or the answer; a request that
cannot apply raises MethodError with OPC Publisher's status (400 bad request, 404 not configured).
"""

from __future__ import annotations

import copy
from typing import Any

from edgeloop_runtime.errors import MethodError

Doc = list[dict[str, Any]]
# A DataSetWriter's identity (directmethods.md): writer id, name, key frame count, class id and the
# connection: endpoint, group, security, authentication and credentials.
_IDENTITY = (
    "EndpointUrl", "DataSetWriterGroup", "DataSetWriterId", "DataSetName", "DataSetKeyFrameCount",
    "DataSetClassId", "UseSecurity", "EndpointSecurityMode", "EndpointSecurityPolicy",
    "OpcAuthenticationMode", "OpcAuthenticationUsername", "OpcAuthenticationPassword",
)  # fmt: skip
_SECRETS = ("OpcAuthenticationPassword", "EncryptedAuthPassword")


def _normalise(request: Any, what: str) -> dict[str, Any]:
    """A request entry with the _V1 spellings (`UserName`, `Password`) as publishednodes.json spells them."""
    if not isinstance(request, dict):
        raise MethodError(400, f"{what}: expected a JSON object (a publishednodes.json entry)")
    out = dict(request)
    if "UserName" in out:
        out.setdefault("OpcAuthenticationUsername", out.pop("UserName"))
    if "Password" in out:
        out.setdefault("OpcAuthenticationPassword", out.pop("Password"))
    if not isinstance(out.get("EndpointUrl"), str):
        raise MethodError(400, f"{what}: EndpointUrl is required")
    return out


def identity(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two entries the same DataSetWriter (absent and null are the same)."""
    return tuple(entry.get(k) or None for k in _IDENTITY)


def _node_key(node: Any) -> Any:
    return (node.get("Id") or node.get("ExpandedNodeId")) if isinstance(node, dict) else None


def _find(doc: Doc, request: dict[str, Any]) -> int | None:
    key = identity(request)
    return next((i for i, e in enumerate(doc) if identity(e) == key), None)


def publish_nodes(doc: Doc, request: Any) -> Doc:
    """PublishNodes_V1: add nodes to a DataSetWriter (created when it does not exist yet)."""
    req = _normalise(request, "PublishNodes_V1")
    nodes = req.get("OpcNodes")
    if not isinstance(nodes, list) or not nodes:
        raise MethodError(400, "PublishNodes_V1: OpcNodes is required and must not be empty")
    out = copy.deepcopy(doc)
    at = _find(out, req)
    if at is None:
        out.append(req)
        return out
    known = {_node_key(n) for n in out[at].get("OpcNodes", [])}
    out[at].setdefault("OpcNodes", []).extend(n for n in nodes if _node_key(n) not in known)
    return out


def unpublish_nodes(doc: Doc, request: Any) -> Doc:
    """UnpublishNodes_V1: remove nodes from a DataSetWriter; no nodes (or all of them) removes the writer."""
    req = _normalise(request, "UnpublishNodes_V1")
    out = copy.deepcopy(doc)
    at = _find(out, req)
    if at is None:
        raise MethodError(404, f"UnpublishNodes_V1: no such DataSetWriter on {req['EndpointUrl']}")
    nodes = req.get("OpcNodes") or []
    if not nodes:
        del out[at]
        return out
    current = out[at].get("OpcNodes", [])
    keys = {_node_key(n) for n in current}
    missing = [_node_key(n) for n in nodes if _node_key(n) not in keys]
    if missing:
        raise MethodError(404, f"UnpublishNodes_V1: nodes not configured: {', '.join(map(str, missing))}")
    gone = {_node_key(n) for n in nodes}
    kept = [n for n in current if _node_key(n) not in gone]
    if kept:
        out[at]["OpcNodes"] = kept
    else:
        del out[at]
    return out


def unpublish_all_nodes(doc: Doc, request: Any) -> Doc:
    """UnpublishAllNodes_V1: remove one DataSetWriter, or everything for an empty payload or no endpoint."""
    if request in (None, {}) or (isinstance(request, dict) and request.get("EndpointUrl") is None):
        return []
    req = _normalise(request, "UnpublishAllNodes_V1")
    if req.get("OpcNodes"):
        raise MethodError(400, "UnpublishAllNodes_V1: OpcNodes must not be given")
    at = _find(doc, req)
    if at is None:
        raise MethodError(404, f"UnpublishAllNodes_V1: no such DataSetWriter on {req['EndpointUrl']}")
    return [copy.deepcopy(e) for i, e in enumerate(doc) if i != at]


def add_or_update_endpoints(doc: Doc, request: Any) -> Doc:
    """AddOrUpdateEndpoints_V1: replace the nodes of each writer given; empty or null nodes remove it."""
    if not isinstance(request, list):
        raise MethodError(400, "AddOrUpdateEndpoints_V1: expected a JSON array of entries")
    reqs = [_normalise(r, f"AddOrUpdateEndpoints_V1[{i}]") for i, r in enumerate(request)]
    keys = [identity(r) for r in reqs]
    if len(set(keys)) != len(keys):
        raise MethodError(400, "AddOrUpdateEndpoints_V1: the same DataSetWriter appears twice")
    out = copy.deepcopy(doc)
    for i, req in enumerate(reqs):
        at = _find(out, req)
        if not req.get("OpcNodes"):
            if at is None:
                raise MethodError(404, f"AddOrUpdateEndpoints_V1[{i}]: no such DataSetWriter to remove")
            del out[at]
        elif at is None:
            out.append(req)
        else:
            out[at] = req
    return out


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the Get methods answer it: camelCase, no nodes, no secrets."""
    return {_camel(k): v for k, v in entry.items() if k != "OpcNodes" and k not in _SECRETS}


def get_configured_endpoints(doc: Doc) -> dict[str, Any]:
    """GetConfiguredEndpoints_V1: `{"endpoints": [...]}`."""
    return {"endpoints": [_public(e) for e in doc]}


def get_configured_nodes_on_endpoint(doc: Doc, request: Any) -> dict[str, Any]:
    """GetConfiguredNodesOnEndpoint_V1: `{"opcNodes": [...]}` of one DataSetWriter."""
    req = _normalise(request, "GetConfiguredNodesOnEndpoint_V1")
    at = _find(doc, req)
    if at is None:
        raise MethodError(
            404, f"GetConfiguredNodesOnEndpoint_V1: no such DataSetWriter on {req['EndpointUrl']}"
        )
    return {"opcNodes": [{_camel(k): v for k, v in n.items()} for n in doc[at].get("OpcNodes", [])]}
