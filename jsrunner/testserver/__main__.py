"""``python -m jsrunner.testserver [--host 127.0.0.1] [--port 8765]``"""

from __future__ import annotations

import argparse
import sys

from .server import ENDPOINTS, serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jsrunner.testserver",
        description="jsrunner's local WebSocket test server (Ctrl+C to stop)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the URL")
    args = parser.parse_args(argv)

    def ready(server) -> None:
        print(server.url, flush=True)
        if not args.quiet:
            for path, what in ENDPOINTS:
                print(f"  {path:<40} {what}", file=sys.stderr)
            print(f"  (plain HTTP index at {server.http_url}/)", file=sys.stderr, flush=True)

    serve_forever(args.host, args.port, ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
