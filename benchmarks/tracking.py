"""Tracking: SiamFC against OpenCV's trackers on the same sequences (issue 26).

1. Held-out synthetic sequences (made from the held-out Flickr8k images, every 10th by name: images the model
   never trained on), exact boxes: the OTB protocol (success AUC over IoU thresholds, precision at 20 px).
2. Real video without labels (``$PAIRSIM_DATA_DIR/videos``: vtest.avi, tree.avi, Megamind.avi): the
   forward-backward error over ``--fb-frames`` frames for several targets per video (each a box on the region that
   moves most between two frames, at several start frames), median over targets.
3. Speed: frames per second of each tracker on the synthetic sequences (SiamFC at its 255x255 search, 3 scales),
   on ``--threads`` CPU threads. ``--speed-only`` times SiamFC alone under each runtime
   (:mod:`pairsim.track.runtime`: ``unfused``, the backbone as trained, is the "before"; ``torch`` and ``onnx`` the
   folded network), alternating the runtimes sequence by sequence so that the shared load falls on all alike, and
   checks that they give the same boxes.

Baselines: ``ncc`` (normalised cross-correlation template matching), ``csrt`` and ``kcf`` (opencv-contrib).

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/tracking.py --model runs/siamfc/model
    PAIRSIM_DATA_DIR=../shared/data python benchmarks/tracking.py --model runs/siamfc/model --speed-only

Writes ``benchmarks/results/tracking.json`` and, with ``--picture``, a strip of tracked frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pairsim.config import from_dict
from pairsim.track.baselines import BASELINES, baseline
from pairsim.track.model import SiamFC, TrackerSettings
from pairsim.track.otb import forward_backward_error, mean_scores, otb_scores
from pairsim.track.sequences import read_frames
from pairsim.track.synthetic import load_images, make_sequence
from pairsim.track.tracker import Tracker


def siamfc_track(model: SiamFC, backend: str = "torch", threads: int | None = None, settings: Any = None) -> Any:
    tracker = Tracker(model, backend=backend, threads=threads, settings=settings)  # init() restarts it per sequence

    def track(frames: list[np.ndarray], box: Any) -> list[Any]:
        return list(tracker.track(frames, box))

    return track


def tracker_settings(model: SiamFC, pairs: list[str]) -> TrackerSettings:
    """The model's tracker settings with ``KEY=VALUE`` overrides (checked like a config file)."""
    data = dataclasses.asdict(model.config.tracker)
    for pair in pairs:
        key, _, value = pair.partition("=")
        data[key] = int(value) if value.lstrip("-").isdigit() else float(value)
    return from_dict(TrackerSettings, data, where="--settings")


def speed_only(args: argparse.Namespace, model: SiamFC, images: Any) -> dict[str, Any]:
    """Frames per second of SiamFC under each runtime, alternating the order sequence by sequence, and the largest
    box difference between each runtime and ``unfused`` (pixels). Frames per CPU-second (this process's CPU time)
    is the figure the shared load affects least: with ``--threads 1`` it is the frame rate of one free core."""
    backends = args.runtimes.split(",")
    trackers = {b: siamfc_track(model, b, args.threads) for b in backends}
    fps: dict[str, list[float]] = {b: [] for b in backends}
    cpu: dict[str, list[float]] = {b: [] for b in backends}  # frames per CPU-second of this process
    diff: dict[str, float] = {b: 0.0 for b in backends}
    for i in range(args.sequences):
        seq = make_sequence(images, seed=args.seed + i, frames=args.frames)
        frames = seq.frames()
        boxes = {}
        for b in backends[i % len(backends) :] + backends[: i % len(backends)]:  # rotate the order
            start = time.process_time()
            boxes[b], rate = timed(trackers[b], frames, tuple(seq.boxes[0]))
            fps[b].append(rate)
            cpu[b].append((len(frames) - 1) / max(time.process_time() - start, 1e-9))
        for b in backends:
            diff[b] = max(diff[b], float(np.abs(np.array(boxes[b]) - np.array(boxes[backends[0]])).max()))
        print(f"sequence {i}: " + ", ".join(f"{b} {fps[b][-1]:.1f} fps" for b in backends), flush=True)
    base = statistics.median(fps[backends[0]])
    return {b: {"fps": statistics.median(fps[b]), "speedup": statistics.median(fps[b]) / base,
                "frames_per_cpu_second": statistics.median(cpu[b]),
                f"max_box_diff_px_vs_{backends[0]}": diff[b]} for b in backends}  # fmt: skip


def moving_targets(frames: list[np.ndarray], count: int, span: int) -> list[tuple[int, tuple[float, ...]]]:
    """``count`` (start frame, box) pairs: at evenly spaced start frames, a square box on the region that changes
    most over the next 3 frames (a moving object, not static background)."""
    import cv2

    h, w = frames[0].shape[:2]
    side = min(h, w) // 6
    starts = np.linspace(0, len(frames) - span - 4, count).astype(int)
    targets = []
    for s in starts:
        a = cv2.cvtColor(frames[s], cv2.COLOR_RGB2GRAY).astype(np.float32)
        b = cv2.cvtColor(frames[s + 3], cv2.COLOR_RGB2GRAY).astype(np.float32)
        motion = cv2.boxFilter(np.abs(a - b), -1, (side, side))  # (H, W) mean change around each pixel
        margin = side // 2 + 1
        motion[:margin], motion[-margin:], motion[:, :margin], motion[:, -margin:] = 0, 0, 0, 0
        cy, cx = np.unravel_index(int(motion.argmax()), motion.shape)
        targets.append((int(s), (float(cx - side / 2), float(cy - side / 2), float(side), float(side))))
    return targets


def timed(track: Any, frames: list[np.ndarray], box: Any) -> tuple[list[Any], float]:
    start = time.perf_counter()
    boxes = track(frames, box)
    return boxes, (len(frames) - 1) / max(time.perf_counter() - start, 1e-9)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a trained SiamFC model directory")
    p.add_argument("--sequences", type=int, default=20, help="held-out synthetic sequences")
    p.add_argument("--frames", type=int, default=100, help="frames per synthetic sequence")
    p.add_argument("--seed", type=int, default=1000, help="seed of the first held-out sequence")
    p.add_argument("--fb-frames", type=int, default=50, help="frames forward (and back) per real-video target")
    p.add_argument("--targets", type=int, default=3, help="targets per video")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/tracking.json")
    p.add_argument("--picture", default=None, help="write a strip of tracked frames (PNG) here")
    p.add_argument("--backend", default="torch", help="SiamFC's runtime for the quality rows (torch, onnx)")
    p.add_argument("--speed-only", action="store_true", help="only time SiamFC under each of --runtimes")
    p.add_argument("--runtimes", default="unfused,torch,onnx", help="--speed-only: runtimes, the first the base")
    p.add_argument("--settings", nargs="*", default=[], metavar="KEY=VALUE",
                   help="tracker settings in place of the model's (e.g. from benchmarks/tracking_tune.py)")  # fmt: skip
    args = p.parse_args()
    if args.speed_only and args.out == p.get_default("out"):
        args.out = "benchmarks/results/tracking_speed.json"

    import torch

    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    data = Path(os.environ.get("PAIRSIM_DATA_DIR", "../shared/data"))
    t0, load0 = time.time(), os.getloadavg()[0]
    model = SiamFC.from_pretrained(args.model)
    settings = tracker_settings(model, args.settings)
    images = load_images(str(data / "flickr8k" / "images"), held_out=True)
    if args.speed_only:
        speeds = speed_only(args, model, images)
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python benchmarks/tracking.py " + " ".join(sys.argv[1:]),
            "model": str(args.model),
            "minutes": round((time.time() - t0) / 60, 1),
            "machine": f"{platform.processor() or platform.machine()}, {args.threads} threads, "
            f"load {os.getloadavg()[0]:.1f} (at the start: {load0:.1f})",
            "search_size": model.config.search_size,
            "scales": model.config.tracker.scales,
            "sequences": args.sequences,
            "frames": args.frames,
            "first_seed": args.seed,
            "siamfc": speeds,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result, indent=1))
        return
    siamfc = siamfc_track(model, args.backend, args.threads, settings)
    trackers = {"siamfc": siamfc, **{b: baseline(b) for b in BASELINES}}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in trackers}
    fps: dict[str, list[float]] = {name: [] for name in trackers}
    first = None
    for i in range(args.sequences):
        seq = make_sequence(images, seed=args.seed + i, frames=args.frames)
        frames = seq.frames()
        for name, track in trackers.items():
            boxes, rate = timed(track, frames, tuple(seq.boxes[0]))
            rows[name].append(otb_scores(np.array(boxes), seq.boxes))
            fps[name].append(rate)
            if i == 0 and name == "siamfc":
                first = (frames, boxes, seq.boxes)
        print(f"sequence {i}: " + ", ".join(f"{n} {rows[n][-1]['success_auc']:.3f}" for n in trackers), flush=True)
    synthetic = {name: {**mean_scores(r), "fps": statistics.median(fps[name])} for name, r in rows.items()}

    videos: dict[str, Any] = {}
    errors: dict[str, list[float]] = {name: [] for name in trackers}
    for video in ("vtest.avi", "tree.avi", "Megamind.avi"):
        path = data / "videos" / video
        if not path.is_file():
            print(f"{path}: missing, skipped", flush=True)
            continue
        frames = read_frames(path)
        per_target = []
        for start, box in moving_targets(frames, args.targets, args.fb_frames):
            clip = frames[start : start + args.fb_frames]
            row = {"start": start, "box": box}
            for name, track in trackers.items():
                row[name] = forward_backward_error(track, clip, box)["error"]
                errors[name].append(row[name])
            per_target.append(row)
            print(f"{video} from frame {start}: " + ", ".join(f"{n} {row[n]:.1f}px" for n in trackers), flush=True)
        videos[video] = per_target
    real = {name: {"median_fb_error_px": statistics.median(e) if e else None, "targets": len(e)}
            for name, e in errors.items()}  # fmt: skip

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python benchmarks/tracking.py " + " ".join(sys.argv[1:]),
        "model": str(args.model),
        "tracker_settings": dataclasses.asdict(settings),
        "minutes": round((time.time() - t0) / 60, 1),
        "machine": f"{platform.processor() or platform.machine()}, {args.threads} threads, "
        f"load {os.getloadavg()[0]:.1f} (at the start: {load0:.1f})",
        "synthetic": {"sequences": args.sequences, "frames": args.frames, "first_seed": args.seed, **synthetic},
        "real_video": {"fb_frames": args.fb_frames, **real, "per_target": videos},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("synthetic", "minutes")}, indent=1))
    print(json.dumps({n: real[n] for n in trackers}, indent=1))
    if args.picture and first is not None:
        from PIL import Image

        from pairsim.track.video import draw

        frames, boxes, truth = first
        picks = np.linspace(0, len(frames) - 1, 4).astype(int)
        tiles = [draw(draw(frames[t], tuple(truth[t]), colour=(40, 220, 40)), boxes[t], label=f"frame {t}")
                 for t in picks]  # fmt: skip
        Image.fromarray(np.concatenate(tiles, axis=1)).save(args.picture)


if __name__ == "__main__":
    main()
