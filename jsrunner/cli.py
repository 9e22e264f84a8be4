"""Command line: ``jsrunner run``, ``jsrunner version``, ``jsrunner serve``, ``jsrunner demo``.

Flag names, short forms and exit codes follow ``k6 run`` so existing k6 invocations work
unchanged. Errors print one k6-style log line; a Python traceback appears only with
``--verbose``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from . import __version__
from .errors import CommandLineError, ExitCode, JsRunnerError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("unrecognized arguments:"):
            flag = message.split(":", 1)[1].strip().split()[0]
            raise CommandLineError(f"unknown flag: {flag}")
        raise CommandLineError(message)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        return key, ""
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jsrunner", description="Run k6 scripts with an embedded JS engine.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run a k6 test script")
    run.add_argument("script")
    run.add_argument("-u", "--vus", type=int)
    run.add_argument("-i", "--iterations", type=int)
    run.add_argument("-d", "--duration")
    run.add_argument("-s", "--stage", action="append", default=[])
    run.add_argument("-e", "--env", action="append", default=[], type=_key_value)
    run.add_argument("--include-system-env-vars", default="true")
    run.add_argument("-c", "--config")
    run.add_argument("-q", "--quiet", action="store_true")
    run.add_argument("-v", "--verbose", action="store_true")
    run.add_argument("--no-summary", action="store_true")
    run.add_argument("--no-thresholds", action="store_true")
    run.add_argument("--no-setup", action="store_true")
    run.add_argument("--no-teardown", action="store_true")
    run.add_argument("--no-color", action="store_true")
    run.add_argument("--summary-export")
    run.add_argument("--summary-trend-stats")
    run.add_argument("--summary-time-unit")
    run.add_argument("--summary-mode")
    run.add_argument("-o", "--out", action="append", default=[])
    run.add_argument("--tag", action="append", default=[], type=_key_value)
    run.add_argument("--system-tags")
    run.add_argument("--log-output")
    run.add_argument("--log-format")
    run.add_argument("--console-output")
    run.add_argument("-w", "--throw", action="store_true")
    run.add_argument("--address", default="", help="ignored (k6 REST API address)")
    run.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core, at most the max VUs; 1 = in-process)")
    run.add_argument("--dask", metavar="SCHEDULER", default=None,
                     help="run the test on a Dask cluster: a scheduler address (tcp://host:8786) or local[:N]")
    run.add_argument("--serve", action="store_true",
                     help="start the bundled test server first and point WS_URL/BASE_URL at it")

    sub.add_parser("version", help="print the version")

    serve = sub.add_parser("serve", help="run the bundled local WebSocket/HTTP test server")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--host", default="127.0.0.1")

    demo = sub.add_parser("demo", help="run the seed chat example against the bundled server")
    demo.add_argument("-d", "--duration", default=None)
    demo.add_argument("-u", "--vus", type=int, default=None)
    demo.add_argument("-q", "--quiet", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args_list or "--verbose" in args_list
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if args.command == "version":
            print(f"jsrunner v{__version__} (k6-compatible, dukpy/QuickJS engine)")
            return 0
        if args.command == "serve":
            return _serve(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "run":
            return _run(args)
        parser.print_help()
        return 0
    except JsRunnerError as exc:
        _print_error(exc.message, exc.fields)
        return exc.exit_code
    except KeyboardInterrupt:
        return ExitCode.EXTERNAL_ABORT
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only when asked
        if verbose:
            traceback.print_exc()
        _print_error(f"unexpected error: {type(exc).__name__}: {exc}", {})
        return ExitCode.FATAL


def _print_error(message: str, fields: dict[str, str]) -> None:
    from .log import Logger
    Logger(sys.stderr).error(message, **fields)


def _print_warning(message: str) -> None:
    from .log import Logger
    Logger(sys.stderr).warning(message)


def config_from_args(args: argparse.Namespace) -> "RunConfig":
    from .runner import RunConfig
    include = str(args.include_system_env_vars).lower() not in ("false", "0", "no")
    return RunConfig(
        script=args.script, vus=args.vus, iterations=args.iterations, duration=args.duration,
        stages=list(args.stage), env=dict(args.env), include_system_env=include, config_file=args.config,
        quiet=args.quiet, verbose=args.verbose, no_summary=args.no_summary, no_thresholds=args.no_thresholds,
        no_setup=args.no_setup, no_teardown=args.no_teardown, no_color=args.no_color,
        summary_export=args.summary_export, summary_trend_stats=args.summary_trend_stats,
        summary_time_unit=args.summary_time_unit, summary_mode=args.summary_mode, out=list(args.out),
        tags=dict(args.tag), system_tags=args.system_tags, log_output=args.log_output,
        log_format=args.log_format, console_output=args.console_output, throw=args.throw,
        install_signal_handlers=True,
    )


def _run(args: argparse.Namespace) -> int:
    workers = args.workers
    if workers is not None and workers < 1:
        raise CommandLineError(f"invalid argument \"{workers}\" for \"--workers\" flag: must be at least 1")
    if args.out and workers != 1 and not args.dask:
        if workers is not None:
            _print_warning("--out needs every sample in one process: running with --workers 1")
        workers = 1  # outputs need every raw sample: keep them in one process
    if workers is None and os.environ.get("JSRUNNER_WORKERS", "").isdigit():
        workers = max(1, int(os.environ["JSRUNNER_WORKERS"]))
    first = None
    if workers != 1 and not args.dask:
        from .child import Child, start_method
        if start_method() == "spawn":
            # the coordinator's first child starts now, so its Python start-up and imports
            # overlap with this process importing the runner (stdlib-only module); forked
            # children start from the coordinator once it has imported everything
            first = Child("host", None, mode="host")
    from .runner import Runner
    cfg = config_from_args(args)

    def go(c: "RunConfig") -> int:
        if args.dask:
            from .dask_runner import run_on_dask
            return run_on_dask(c, args.dask, workers=args.workers)
        if workers == 1:
            return Runner(c).run().exit_code
        from .coordinator import run_with_workers
        return run_with_workers(c, workers, first)  # None: one per core, at most the test's max VUs

    if args.serve:
        return _with_server(lambda url: _run_cfg(cfg, url, go))
    return go(cfg)


def _run_cfg(cfg: "RunConfig", url: str, go=None) -> int:  # type: ignore[no-untyped-def]
    from .runner import Runner
    cfg.env.setdefault("WS_URL", url)
    cfg.env.setdefault("BASE_URL", url.replace("ws://", "http://"))
    if go is not None:
        return go(cfg)
    return Runner(cfg).run().exit_code


def _with_server(fn) -> int:  # type: ignore[no-untyped-def]
    from .testserver import ServerThread
    with ServerThread() as srv:
        print(f"bundled test server listening on {srv.url}", file=sys.stderr)
        return fn(srv.url)


def _serve(args: argparse.Namespace) -> int:
    from .testserver import ENDPOINTS, serve_forever

    def ready(server) -> None:  # type: ignore[no-untyped-def]
        print(f"jsrunner test server listening on {server.url}", flush=True)
        print(f"  (plain HTTP index at {server.http_url}/; Ctrl+C to stop)", file=sys.stderr)
        for path, what in ENDPOINTS:
            print(f"  {path:<40} {what}", file=sys.stderr)
        sys.stderr.flush()

    try:
        serve_forever(args.host, args.port, ready)
    except OSError as exc:
        raise JsRunnerError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def demo_script() -> str:
    """Path of the bundled chat sample (``jsrunner/samples_bundled/chat.k6.js``)."""
    from importlib import resources
    sample = resources.files("jsrunner").joinpath("samples_bundled", "chat.k6.js")
    if not sample.is_file():
        raise JsRunnerError(f"the bundled demo script is missing from this installation: {sample}")
    return str(sample)


def _demo(args: argparse.Namespace) -> int:
    sample = demo_script()
    if not args.quiet:
        print("jsrunner demo: the seed chat example (4 WebSocket chat users per VU on timers) "
              "against the bundled test server on 127.0.0.1", file=sys.stderr, flush=True)
    argv = ["run", "--serve", sample]
    if args.duration:
        argv += ["-d", args.duration]
    if args.vus:
        argv += ["-u", str(args.vus)]
    if args.quiet:
        argv.append("-q")
    return main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


if False:  # pragma: no cover - typing only
    from .runner import RunConfig
