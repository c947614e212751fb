"""`edgeloop manifest render | lint`: turn a template into a concrete manifest, and check manifests."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

PLATFORMS = ("amd64", "arm64v8")


def register(subparsers: Any) -> None:
    """Add `manifest render` and `manifest lint`."""
    manifest: argparse.ArgumentParser = subparsers.add_parser(
        "manifest",
        help="render a deployment template (like iotedgedev genconfig) or lint a manifest",
        description="Deployment manifest tools.",
    )
    sub = manifest.add_subparsers(dest="manifest_command", required=True, metavar="ACTION")

    render = sub.add_parser(
        "render",
        help="write a concrete manifest for a platform",
        description="Resolve ${MODULES.x} images from module.json, $VARIABLES from .env and the environment, "
        "split createOptions; then lint the result.",
    )
    render.add_argument(
        "--template",
        type=Path,
        help="template (default: deployment/deployment.template.json; deployment.local... with --debug)",
    )
    render.add_argument("--platform", choices=PLATFORMS, required=True)
    render.add_argument(
        "--gpu", action="store_true", help="apply deployment/gpu.overlay.json and the .gpu images"
    )
    render.add_argument("--debug", action="store_true", help="use deployment/deployment.local.template.json")
    render.add_argument(
        "--env-file", type=Path, help="variables (default: .env in the repository root, if any)"
    )
    render.add_argument("--out", type=Path, help="output (default: config/<template>.<platform>[.gpu].json)")
    render.add_argument("--gpu-overlay", type=Path, help="JSON merge patch applied with --gpu")
    render.add_argument("--modules-dir", type=Path, help="folder of module.json files (default: modules/)")
    render.set_defaults(func=_render)

    lint = sub.add_parser(
        "lint",
        help="check manifests or templates; one line per finding",
        description="Schema (ours, and SchemaStore's and az's vendored in deployment/schema/vendor), "
        "routes (grammar, modules, outputs, inputs, $body on non-JSON outputs, "
        "priority, TTL, the same contract on both ends), twin sizes, createOptions size and unresolved "
        "placeholders; warnings (not failures) for declared outputs routed nowhere. "
        "Exit 0 when clean or only warned, 1 on errors.",
    )
    lint.add_argument("files", type=Path, nargs="+", metavar="FILE")
    lint.add_argument("--kind", choices=("auto", "template", "rendered"), default="auto")
    lint.add_argument(
        "--schema", type=Path, help="JSON schema (default: deployment/schema/deployment.schema.json)"
    )
    lint.add_argument("--modules-dir", type=Path, help="folder of module.json files (default: modules/)")
    lint.add_argument("--base", type=Path, help="base deployment that layered FILEs are composed onto")
    lint.set_defaults(func=_lint)


def _render(args: argparse.Namespace) -> int:
    from . import files
    from .catalog import load_catalog
    from .errors import RenderError
    from .layered import is_layered
    from .lint import lint_layer, lint_manifest
    from .render import RenderOptions, render_manifest
    from .schema_check import load_schema
    from .vendor_check import VendoredSchemas

    root = files.find_repo_root()
    template_path = args.template or root / (files.DEBUG_TEMPLATE if args.debug else files.TEMPLATE)
    env_file = args.env_file
    if env_file is None and (root / ".env").is_file():
        env_file = root / ".env"
    out = args.out or root / files.default_out(template_path, args.platform, args.gpu)
    try:
        template = files.read_json(template_path)
        catalog = load_catalog(args.modules_dir or root / "modules")
        overlay = files.read_json(args.gpu_overlay or root / files.GPU_OVERLAY) if args.gpu else None
        options = RenderOptions(
            platform=args.platform,
            gpu=args.gpu,
            # the container debug template binds files of this checkout: $EDGELOOP_REPO unless set
            variables={"EDGELOOP_REPO": str(root), **files.variables(env_file)},
            gpu_overlay=overlay,
            strict=True,
        )
        manifest = render_manifest(template, catalog, options)
        schema = load_schema(root / files.SCHEMA)
        vendored = VendoredSchemas.load(root)
    except RenderError as exc:
        print(f"render failed: {exc}")
        return 1
    files.write_json(out, manifest)
    if is_layered(manifest):
        layered_schema = load_schema(root / files.LAYERED_SCHEMA)
        findings = lint_layer(
            manifest, None, catalog, schema, layered_schema, template=False, vendored=vendored, warnings=True
        )
        print(f"{out}: a layer; lint it with --base to check its routes against the base")
    else:
        findings = lint_manifest(manifest, catalog, schema, template=False, vendored=vendored, warnings=True)
    for finding in findings:
        print(f"{out}: {finding}")
    modules, routes = _counts(manifest)
    print(
        f"wrote {out} ({args.platform}{', gpu' if args.gpu else ''}: "
        f"{len(modules)} modules, {len(routes)} routes)"
    )
    return 1 if _errors(findings) else 0


def _errors(findings: list[Any]) -> int:
    """How many findings fail the lint (warnings do not)."""
    return sum(1 for finding in findings if finding.severity == "error")


def _lint(args: argparse.Namespace) -> int:
    from . import files
    from .catalog import load_catalog
    from .errors import RenderError
    from .layered import is_layered
    from .lint import is_template, lint_layer, lint_manifest
    from .schema_check import load_schema
    from .vendor_check import VendoredSchemas

    root = files.find_repo_root(args.files[0].parent)
    try:
        schema = load_schema(args.schema or root / files.SCHEMA)
        layered_schema = load_schema(root / files.LAYERED_SCHEMA)
        catalog = load_catalog(args.modules_dir or root / "modules")
        vendored = VendoredSchemas.load(root)
        base = files.read_json(args.base) if args.base else None
    except RenderError as exc:
        print(f"lint failed: {exc}")
        return 1
    problems = 0
    for path in args.files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc} [io]")
            problems += 1
            continue
        except json.JSONDecodeError as exc:
            print(f"{path}: not JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} [json]")
            problems += 1
            continue
        template = args.kind == "template" or (args.kind == "auto" and is_template(doc, path.name))
        if is_layered(doc):
            template = template or (base is not None and args.kind == "auto" and is_template(base))
            findings = lint_layer(
                doc,
                base,
                catalog,
                schema,
                layered_schema,
                template=template,
                vendored=vendored,
                warnings=True,
            )
        else:
            findings = lint_manifest(
                doc, catalog, schema, template=template, vendored=vendored, warnings=True
            )
        for finding in findings:
            print(f"{path}: {finding}")
        errors = _errors(findings)
        problems += errors
        if not errors:
            warned = len(findings)
            note = f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""
            print(f"{path}: ok ({'template' if template else 'rendered'}{note})")
    return 1 if problems else 0


def _counts(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Module and route names of a manifest or a layer."""
    from .layered import unwrap

    content = unwrap(manifest).get("modulesContent", {})
    agent, hub = content.get("$edgeAgent", {}), content.get("$edgeHub", {})
    if "properties.desired" in agent:
        return list(agent["properties.desired"].get("modules", {})), list(
            hub.get("properties.desired", {}).get("routes", {})
        )
    prefix_m, prefix_r = "properties.desired.modules.", "properties.desired.routes."
    return (
        [key[len(prefix_m) :] for key in agent if key.startswith(prefix_m)],
        [key[len(prefix_r) :] for key in hub if key.startswith(prefix_r)],
    )
