"""The image HEALTHCHECK: probe /healthz where the metrics server really listens (stdlib only).

Run as a plain script (`python3 -I healthcheck.py`) so a probe every 30 s costs no SDK import.
METRICS_PORT -1 means no server (healthy: nothing to probe), 0 means the port the server bound and
wrote to METRICS_PORT_FILE; a wildcard METRICS_HOST is probed on loopback, any other host as given.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


def probe_url(env: Mapping[str, str]) -> str | None:
    """The /healthz URL to probe, or None when the module runs no metrics server."""
    port = int(env.get("METRICS_PORT", "9600"))
    if port < 0:
        return None
    if port == 0:
        port_file = env.get("METRICS_PORT_FILE", "")
        if not port_file or not Path(port_file).is_file():
            raise RuntimeError("METRICS_PORT=0 but no METRICS_PORT_FILE was written by the module")
        port = int(Path(port_file).read_text().strip())
    host = env.get("METRICS_HOST", "0.0.0.0").strip()
    host = WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main() -> int:
    """Exit 0 when /healthz answers 200 (or there is no server), 1 otherwise."""
    try:
        url = probe_url(os.environ)
        if url is None:
            return 0
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        with opener.open(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except Exception as error:
        sys.stderr.write(f"healthcheck: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
