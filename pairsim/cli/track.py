"""``pairsim track VIDEO_OR_FRAME_FOLDER --model DIR --init x,y,w,h [--out boxes.txt] [--video out.gif]
[--backend torch|onnx]``."""

from __future__ import annotations

import argparse

from pairsim.cli.args import add_allow_unverified, add_threads, positive_int, runtime_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "track",
        help="follow one target through a video with a SiamFC model",
        description="Track the target in --init through a video file or a folder of frames with a SiamFC model "
        "(trained with `pairsim train recipes/siamfc.yaml`). Writes one x,y,w,h line per frame.",
    )
    p.add_argument("source", help="a video file (OpenCV) or a folder of frames (sorted by name)")
    p.add_argument("--model", required=True, help="a saved SiamFC model directory")
    p.add_argument("--init", required=True, help="the target in the first frame: x,y,w,h (pixels, top-left corner)")
    p.add_argument("--out", default="-", help="where the boxes go, one x,y,w,h line per frame (default: stdout)")
    p.add_argument("--video", default=None, help="also write the frames with the boxes drawn (.gif, .mp4 or .avi)")
    p.add_argument("--frames", type=positive_int, default=None, help="track this many frames at most")
    p.add_argument("--start", type=int, default=0, help="first frame to read (default 0)")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="how the tower runs: torch, or onnx (onnxruntime, faster on a CPU; pairsim[onnx])")  # fmt: skip
    add_allow_unverified(p)
    add_threads(p, recipe=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from pairsim.errors import DataError
    from pairsim.safe_io import atomic_write_text, check_file_target
    from pairsim.track.model import SiamFC
    from pairsim.track.sequences import parse_box, read_frames
    from pairsim.track.tracker import Tracker
    from pairsim.track.video import VIDEO_SUFFIXES, boxes_text, write_video

    box = parse_box(args.init, where="--init")  # every input and output is checked before any work
    if args.start < 0:
        raise DataError(f"--start: expected a frame number >= 0, got {args.start}")
    if args.out != "-":
        check_file_target(args.out, what="--out")
    if args.video:
        if Path(args.video).suffix.lower() not in VIDEO_SUFFIXES:
            raise DataError(f"--video {args.video}: expected a .gif, .mp4 or .avi name")
        check_file_target(args.video, what="--video")
    model = SiamFC.from_pretrained(args.model, allow_unverified=args.allow_unverified)  # --threads: threads_scope
    frames = read_frames(args.source, limit=args.frames, start=args.start)
    h, w = frames[0].shape[:2]
    x, y, bw, bh = box
    if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
        raise DataError(f"--init {args.init}: the box lies outside the first frame ({w}x{h})")
    tracker = Tracker(model, backend=args.backend, threads=runtime_threads(args))
    boxes = list(tracker.track(frames, box))
    text = boxes_text(boxes)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(args.out, text)
    if args.video:
        write_video(args.video, frames, boxes)
    return 0
