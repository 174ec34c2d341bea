"""``pairsim serve MODEL [--gallery G] [--host 127.0.0.1 --port 8000]``: the HTTP API and demo page.

Writes (enroll, delete) need a token, read from ``$PAIRSIM_SERVE_TOKEN`` or ``--token-file`` (``--token`` works
too, but a command line is visible to every user of the machine in ``ps``); without one the server is read-only
unless started with ``--open-writes``. Only the hosts 127.0.0.1, localhost, [::1], the ``--host`` address and
``--allowed-host`` names are answered.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pairsim.cli.args import add_allow_unverified, add_threads, runtime_threads

MB = 1024 * 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    from pairsim.serve.limits import Limits

    limits = Limits()

    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP (score, encode, identify, enroll) with a demo page",
        description="JSON API and a page at / where two texts or images are scored; OpenAPI docs at /docs. "
        "Enroll and delete need a token ($PAIRSIM_SERVE_TOKEN or --token-file); without one the server is "
        "read-only unless --open-writes. Needs the serve extra: pip install 'pairsim[serve]'.",
    )
    p.add_argument(
        "model",
        help="saved model directory or hub id, a Hugging Face / sentence-transformers encoder "
        "directory or hub id, or an ONNX export with --backend onnx",
    )
    p.add_argument("--gallery", help="gallery file for identify / enroll (created by the first enroll)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="onnx: MODEL is an ONNX export")
    p.add_argument("--device", default="auto")
    add_allow_unverified(p)
    add_threads(p, recipe=False)
    p.add_argument(
        "--batch-window-ms", type=float, default=0.0, help="extra wait to merge requests (0: merge what is queued)"
    )
    p.add_argument("--max-batch-items", type=int, default=64, help="inputs per merged model call (1: no batching)")
    auth = p.add_argument_group("writes (enroll, DELETE /identities/NAME)")
    given = auth.add_mutually_exclusive_group()
    given.add_argument("--token-file", help="file whose first line is the write token (default: $PAIRSIM_SERVE_TOKEN)")
    given.add_argument("--token", help="the write token (visible in ps: prefer $PAIRSIM_SERVE_TOKEN or --token-file)")
    given.add_argument("--open-writes", action="store_true",
                       help="no token: anyone who can reach the server may enroll and delete identities")  # fmt: skip
    access = p.add_argument_group("hosts and limits")
    access.add_argument("--allowed-host", action="append", default=[], metavar="NAME[:PORT]",
                        help="also answer requests for this host name (repeatable; 127.0.0.1, localhost, [::1] "
                        "and a specific --host are always allowed)")  # fmt: skip
    access.add_argument("--max-items", type=int, default=limits.max_items, help="inputs per field and request")
    access.add_argument("--max-body-mb", type=float, default=limits.max_body_bytes / MB, help="largest request body")
    access.add_argument("--max-upload-mb", type=float, default=limits.max_upload_bytes / MB,
                        help="largest image upload or JSON body")  # fmt: skip
    access.add_argument("--max-megapixels", type=float, default=limits.max_pixels / 1e6,
                        help="largest image (checked before decoding); a request's images may hold 4x this")  # fmt: skip
    p.set_defaults(run=run)


def write_token(args: argparse.Namespace) -> tuple[str | None, str]:
    """The write token and where it came from: ``--token``, ``--token-file`` or ``$PAIRSIM_SERVE_TOKEN``."""
    from pairsim.cli.inputs import split_lines
    from pairsim.errors import DataError
    from pairsim.serve.security import TOKEN_ENV

    if args.token is not None:
        return args.token, "--token"
    if args.token_file is not None:
        path = Path(args.token_file)
        if not path.is_file():
            raise DataError(f"--token-file {path}: no such file")
        lines = split_lines(path.read_text(encoding="utf-8", errors="replace"))
        return (lines[0].strip() if lines else ""), f"--token-file {path}"
    env = os.environ.get(TOKEN_ENV)
    if env is not None and not args.open_writes:
        return env.strip(), f"${TOKEN_ENV}"
    return None, ""


def run(args: argparse.Namespace) -> int:
    from pairsim.cli.model_arg import load_model_arg
    from pairsim.device import pick_device
    from pairsim.errors import ConfigError
    from pairsim.serve.limits import Limits
    from pairsim.serve.security import check_token

    try:
        import uvicorn

        from pairsim.serve.app import create_app
    except ImportError as err:
        raise ConfigError(
            f"pairsim serve needs the serve extra ({err.name} missing): pip install 'pairsim[serve]'"
        ) from None
    for name in ("max_items", "max_body_mb", "max_upload_mb", "max_megapixels"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')}: expected a positive number, got {getattr(args, name)}")
    token, source = write_token(args)
    if token is not None:
        check_token(token, source)
    pixels = int(args.max_megapixels * 1e6)
    limits = Limits(max_items=args.max_items, max_body_bytes=int(args.max_body_mb * MB),
                    max_upload_bytes=int(args.max_upload_mb * MB), max_pixels=pixels, max_request_pixels=4 * pixels)  # fmt: skip
    model, _ = load_model_arg(
        args.model,
        backend=args.backend,
        device=str(pick_device(args.device)),
        allow_unverified=args.allow_unverified,
        threads=runtime_threads(args),
    )
    app = create_app(model, gallery=args.gallery, batch_window_ms=args.batch_window_ms,
                     max_batch_items=args.max_batch_items, limits=limits, token=token, open_writes=args.open_writes,
                     allowed_hosts=args.allowed_host, bind_host=args.host)  # fmt: skip
    policy = app.state.policy
    if token is not None:
        print(
            f"pairsim serve: enroll and delete need 'Authorization: Bearer TOKEN' (token from {source})",
            file=sys.stderr,
        )
    elif args.open_writes:
        print("pairsim serve: warning: --open-writes: anyone who can reach this server can enroll and delete "
              "identities", file=sys.stderr)  # fmt: skip
    else:
        print("pairsim serve: read-only: enroll and delete are refused; set $PAIRSIM_SERVE_TOKEN (or --token-file) "
              "to enable them", file=sys.stderr)  # fmt: skip
    print(f"pairsim serve: answering requests for {', '.join(policy.hosts)} (add names with --allowed-host)",
          file=sys.stderr)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
