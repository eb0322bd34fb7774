"""Serve the services: ``python -m workflows.earthquake.services --state DIR [--host H]
[--port P] [--port-file F] [--domains FILE] [--start-delay S]``.

``--port 0`` (the default) takes a free port; the URL is printed (``serving URL``) and, with
``--port-file``, written there once the server accepts connections. ``--start-delay``
waits before binding (a slow start, for tests of the health-gated start).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workflows.earthquake.services")
    p.add_argument("--state", required=True, help="directory of the services' SQLite state")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", default=None)
    p.add_argument("--domains", default=None, help="domain catalogue (JSON)")
    p.add_argument("--start-delay", type=float, default=0.0)
    args = p.parse_args(argv)

    import uvicorn

    from workflows.earthquake.services.app import DEFAULT_DOMAINS, create_app

    if args.start_delay:
        time.sleep(args.start_delay)
    app = create_app(args.state, domains_file=args.domains or DEFAULT_DOMAINS,
                     faults_file=os.environ.get("UCIS4EQ_FAULTS") or None)  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without, Nagle's algorithm and delayed ACKs add
    # ~40 ms to every small answer (uvicorn sets it only on sockets it creates itself).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    url = f"http://{args.host}:{port}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

    if args.port_file:
        # Written once the server is up, so a waiting caller can connect at once.
        def announce() -> None:
            while not server.started:
                time.sleep(0.01)
            tmp = Path(args.port_file + ".tmp")
            tmp.write_text(url)
            os.replace(tmp, args.port_file)

        import threading

        threading.Thread(target=announce, daemon=True).start()
    print(f"serving {url}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
