"""``pairsim track`` writes one box per frame and a video; ``pairsim train`` runs a tracking recipe; bad input is
one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from planted_pattern import planted

from pairsim.cli import main
from pairsim.track.sequences import read_annotated, read_frames

REPO = Path(__file__).resolve().parents[2]


def _frame_folder(tmp_path: Path, n: int = 8) -> tuple[Path, np.ndarray]:
    frames, boxes = planted(frames=n)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:04d}.png")
    return folder, boxes


def test_track_writes_boxes_and_a_video(tmp_path: Path, saved_siamfc: Path) -> None:
    folder, truth = _frame_folder(tmp_path)
    init = ",".join(str(int(v)) for v in truth[0])
    out, video = tmp_path / "boxes.txt", tmp_path / "tracked.gif"
    assert main(["track", str(folder), "--model", str(saved_siamfc), "--init", init, "--out", str(out),
                 "--video", str(video), "--threads", "1"]) == 0  # fmt: skip
    lines = out.read_text().splitlines()
    assert len(lines) == 8 and lines[0] == "60.00,50.00,40.00,40.00"
    boxes = np.array([[float(v) for v in ln.split(",")] for ln in lines])
    assert np.abs(boxes[:, :2] - truth[:, :2]).max() < 15  # it follows the planted pattern
    with Image.open(video) as gif:
        assert gif.n_frames == 8


def test_track_reads_a_video_file(tmp_path: Path, saved_siamfc: Path) -> None:
    import cv2

    frames, truth = planted(frames=6)
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    assert len(read_frames(path)) == 6
    out = tmp_path / "boxes.txt"
    init = ",".join(str(int(v)) for v in truth[0])
    assert main(["track", str(path), "--model", str(saved_siamfc), "--init", init, "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6


@pytest.mark.parametrize(
    ("init", "message"),
    [("1,2,3", "--init: expected x,y,w,h"), ("10,10,0,5", "positive width"), ("900,900,10,10", "outside")],
)
def test_bad_init_is_one_line(tmp_path: Path, saved_siamfc: Path, capsys: pytest.CaptureFixture[str], init: str,
                              message: str) -> None:  # fmt: skip
    folder, _ = _frame_folder(tmp_path, n=2)
    assert main(["track", str(folder), "--model", str(saved_siamfc), "--init", init]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_outputs_are_refused_before_any_work(tmp_path: Path, saved_siamfc: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    folder, _ = _frame_folder(tmp_path, n=2)
    base = ["track", str(folder), "--model", str(tmp_path / "no-model"), "--init", "1,1,5,5"]
    assert main([*base, "--video", str(tmp_path / "out.png")]) == 2  # checked before the (missing) model loads
    assert "expected a .gif, .mp4 or .avi name" in capsys.readouterr().err
    assert main([*base, "--start", "-1"]) == 2
    assert "--start: expected a frame number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_missing_source_and_wrong_model_are_one_line(tmp_path: Path, saved_siamfc: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["track", str(tmp_path / "none.avi"), "--model", str(saved_siamfc), "--init", "1,1,5,5"]) == 2
    assert "none.avi: not found" in capsys.readouterr().err
    folder, _ = _frame_folder(tmp_path, n=2)
    assert main(["track", str(folder), "--model", str(tmp_path), "--init", "1,1,5,5"]) == 2
    assert "config.json" in capsys.readouterr().err


def test_annotated_sequences_in_the_otb_layout(tmp_path: Path) -> None:
    folder, truth = _frame_folder(tmp_path, n=3)
    (folder / "groundtruth_rect.txt").write_text("".join(f"{int(x)}\t{int(y)}\t{int(w)}\t{int(h)}\n"
                                                         for x, y, w, h in truth))  # fmt: skip
    seq = read_annotated(folder)
    assert len(seq) == 3 and np.array_equal(seq.boxes, truth)
    (folder / "groundtruth_rect.txt").write_text("1,2,3,4\n")
    with pytest.raises(ValueError, match="1 boxes for 3 frames"):
        read_annotated(folder)


def test_pairsim_train_runs_a_tracking_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(images / f"{i}.jpg")
    out = tmp_path / "run"
    overrides = [f"data.images={images}", "data.held_out_every=3", "data.frames=10", "train.steps=2",
                 "train.batch_size=2", "model.backbone.width=0.125", f"output_dir={out}"]  # fmt: skip
    assert main(["train", str(REPO / "recipes" / "siamfc.yaml"), *overrides, "--threads", "1"]) == 0
    assert (out / "model" / "config.json").is_file() and (out / "recipe.yaml").is_file()
    assert "step 2/2" in (out / "train.log").read_text()
