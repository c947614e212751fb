"""`edgeloop hub`, `modulecred`, `invoke`, `twin` and `upstream`: the local hub and its companion commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the hub's subcommands to the `edgeloop` parser."""
    p = sub.add_parser("hub", help="run the local edge hub (edgeHub-compatible MQTT over TLS on HOST:8883)")
    p.add_argument("--manifest", type=Path, required=True, help="deployment manifest (JSON)")
    p.add_argument("--state-dir", type=Path, required=True, help="certificates, identities, store, twins")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to serve on; modules use it as GatewayHostName"
    )
    p.add_argument("--port", type=int, default=8883, help=argparse.SUPPRESS)
    p.add_argument("--device-id", default=None, help="edge device id (default: kept in the state dir)")
    p.add_argument("--upstream-connection-string", default=None, help="also forward $upstream to this device")
    p.add_argument("--metrics-port", type=int, default=9600, help="Prometheus /metrics port on HOST (0: any)")
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=_hub)

    p = sub.add_parser("modulecred", help="print a module's credentials as iotedgehubdev modulecred does")
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--host", default=None, help="GatewayHostName (default: the hub's host)")
    p.add_argument("module")
    p.set_defaults(func=_modulecred)

    p = sub.add_parser("invoke", help="call a direct method on a connected module")
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--payload", default="null", help="JSON payload")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer")
    p.add_argument("module")
    p.add_argument("method")
    p.set_defaults(func=_invoke)

    p = sub.add_parser("twin", help="print a module twin; --desired merges and pushes a desired patch")
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--desired", default=None, help="JSON object to merge into desired properties")
    p.add_argument("module")
    p.set_defaults(func=_twin)

    p = sub.add_parser("upstream", help="print upstream ($upstream) messages")
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new messages")
    p.add_argument(
        "--decode", action="store_true", help="one line per event: batches unpacked, gzip bodies decompressed"
    )
    p.set_defaults(func=_upstream)


def _err(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _hub(args: argparse.Namespace) -> int:
    from edgeloop_dev.hub.app import HubOptions, run
    from edgeloop_dev.hub.errors import ConfigError
    from edgeloop_dev.routes import RouteError
    from edgeloop_runtime.logs import configure_logging

    configure_logging("edgeloop-hub", args.log_level)
    opts = HubOptions(
        manifest=args.manifest,
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        device_id=args.device_id,
        upstream_connection_string=args.upstream_connection_string,
        metrics_port=args.metrics_port,
    )
    try:
        return run(opts)
    except (ConfigError, RouteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        return _err(f"cannot serve on {args.host}: {exc}")


def _modulecred(args: argparse.Namespace) -> int:
    from edgeloop_dev.hub.identity import module_environment

    env = module_environment(args.state_dir, args.module, host=args.host)
    print(f"EdgeHubConnectionString={env['EdgeHubConnectionString']}")
    print(f"EdgeModuleCACertificateFile={env['EdgeModuleCACertificateFile']}")
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from edgeloop_dev.hub.client import invoke_method
    from edgeloop_dev.hub.errors import HubError

    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        return _err(f"--payload is not JSON: {exc}")
    try:
        result = invoke_method(args.state_dir, args.module, args.method, payload, args.timeout)
    except HubError as exc:
        return _err(str(exc))
    print(json.dumps(result))
    return 0


def _twin(args: argparse.Namespace) -> int:
    from edgeloop_dev.hub.client import get_twin, patch_desired
    from edgeloop_dev.hub.errors import HubError

    try:
        if args.desired is not None:
            patch = json.loads(args.desired)
            if not isinstance(patch, dict):
                return _err("--desired must be a JSON object")
            twin = patch_desired(args.state_dir, args.module, patch)
        else:
            twin = get_twin(args.state_dir, args.module)
    except ValueError as exc:
        return _err(f"--desired is not JSON: {exc}")
    except HubError as exc:
        return _err(str(exc))
    print(json.dumps(twin, indent=2))
    return 0


def _upstream(args: argparse.Namespace) -> int:
    from edgeloop_dev.hub.upstream import UPSTREAM_FILE
    from edgeloop_dev.hub.upstream_decode import decoded_lines

    path = Path(args.state_dir) / UPSTREAM_FILE
    if not path.exists() and not args.follow:
        return 0
    try:
        while not path.exists():
            time.sleep(0.2)
        with open(path, encoding="utf-8") as f:
            while True:
                line = f.readline()
                if line.endswith("\n"):
                    for out in decoded_lines(line, path.parent) if args.decode else [line.rstrip("\n")]:
                        print(out, flush=True)
                    continue
                if not args.follow:
                    return 0
                if line:  # a partly written line: read it again whole
                    f.seek(f.tell() - len(line.encode()))
                time.sleep(0.1)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
