"""``pairsim serve MODEL [--gallery G] [--host 127.0.0.1 --port 8000]``: the HTTP API and demo page."""

from __future__ import annotations

import argparse

from pairsim.cli.args import add_allow_unverified


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP (score, encode, identify, enroll) with a demo page",
        description="JSON API and a page at / where two texts or images are scored; OpenAPI docs at /docs. "
        "Needs the serve extra: pip install 'pairsim[serve]'.",
    )
    p.add_argument("model", help="saved model directory (or an ONNX export with --backend onnx)")
    p.add_argument("--gallery", help="gallery file for identify / enroll (created by the first enroll)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="onnx: MODEL is an ONNX export")
    p.add_argument("--device", default="auto")
    add_allow_unverified(p)
    p.add_argument(
        "--batch-window-ms", type=float, default=0.0, help="extra wait to merge requests (0: merge what is queued)"
    )
    p.add_argument("--max-batch-items", type=int, default=64, help="inputs per merged model call (1: no batching)")
    p.add_argument("--max-upload-mb", type=float, default=10.0, help="largest accepted image upload")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.errors import ConfigError
    from pairsim.export.onnx_runtime import load_model
    from pairsim.train.distributed import pick_device

    try:
        import uvicorn

        from pairsim.serve.app import create_app
    except ImportError as err:
        raise ConfigError(
            f"pairsim serve needs the serve extra ({err.name} missing): pip install 'pairsim[serve]'"
        ) from None
    model = load_model(
        args.model, backend=args.backend, device=str(pick_device(args.device)), allow_unverified=args.allow_unverified
    )
    app = create_app(model, gallery=args.gallery, batch_window_ms=args.batch_window_ms,
                     max_batch_items=args.max_batch_items,
                     max_upload_bytes=int(args.max_upload_mb * 1024 * 1024))  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
