"""Video I/O on real media and on every kind of damaged or unusual input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from qa_harness.errors import ClipError
from qa_harness.records import CropBox
from qa_harness.video.io import iter_frames, probe, read_image
from tests.helpers.media import CLIPS, PHOTOS, decode, truncated_copy, write_mp4


def test_streams_chunks_of_a_real_clip():
    info = probe(CLIPS / "d20.mp4")
    chunks = list(iter_frames(CLIPS / "d20.mp4", resolution=64, chunk=32, expected=info.frame_count))
    assert [c.shape[0] for c in chunks] == [32] * 5 + [15]
    assert all(c.shape[1:] == (3, 64, 64) and c.dtype == torch.float32 for c in chunks)
    assert 0.0 <= min(c.min() for c in chunks) and max(c.max() for c in chunks) <= 1.0


def test_decoded_pixels_match_pyav_at_native_size():
    ours = next(iter_frames(CLIPS / "d12.mp4", resolution=512, chunk=2))
    ref = torch.from_numpy(np.stack(decode(CLIPS / "d12.mp4", 2))).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(ours, ref)


def test_crop_box_is_applied_before_resizing():
    box = CropBox(321, 105, 560)
    ours = next(iter_frames(CLIPS / "lp_s32.mp4", resolution=560, crop=box, chunk=1))
    full = torch.from_numpy(decode(CLIPS / "lp_s32.mp4", 1)[0]).permute(2, 0, 1).float() / 255
    assert torch.equal(ours[0], full[:, 105:665, 321:881])
    with pytest.raises(ClipError, match="does not fit"):
        next(iter_frames(CLIPS / "lp_s32.mp4", crop=CropBox(1000, 0, 500)))


def test_max_frames_caps_and_short_read_is_an_error(tmp_path):
    frames = list(iter_frames(CLIPS / "d20.mp4", resolution=32, chunk=4, max_frames=6, expected=175))
    assert sum(f.shape[0] for f in frames) == 6
    truncated = truncated_copy(CLIPS / "d20.mp4", tmp_path / "truncated.mp4")  # its header still promises 175
    expected = probe(truncated).frame_count
    assert expected == 175
    with pytest.raises(ClipError, match=rf"{truncated}: truncated: decoded \d+ of 175 frames"):
        list(iter_frames(truncated, resolution=32, chunk=4, expected=expected))
    # under a cap that the decoded part covers, the clip is not short
    assert sum(f.shape[0] for f in iter_frames(truncated, resolution=32, max_frames=6, expected=expected)) == 6


def test_frame_folder_with_gray_rgba_16bit_and_odd_sizes(tmp_path):
    rgb = decode(CLIPS / "d20.mp4", 1)[0][:301, :299]  # odd, non-square
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "0000.png")
    Image.fromarray(rgb).convert("L").save(folder / "0001.png")
    Image.fromarray(rgb).convert("RGBA").save(folder / "0002.png")
    gray16 = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(gray16).save(folder / "0003.png")  # uint16 -> a 16-bit PNG
    Image.fromarray(rgb).save(folder / "0004.jpg", quality=95)
    assert probe(folder).frame_count == 5
    frames = torch.cat(list(iter_frames(folder, resolution=64, chunk=2)))
    assert frames.shape == (5, 3, 64, 64)
    assert torch.allclose(frames[0], frames[2], atol=1e-6)  # alpha dropped
    assert torch.allclose(frames[1], frames[3], atol=2e-3)  # 16-bit scaled like 8-bit
    assert torch.equal(frames[1][0], frames[1][1])  # gray became 3 equal channels
    assert (frames[0] - frames[4]).abs().mean() < 0.02


def test_truncated_mp4_is_a_clip_error(tmp_path):
    src = write_mp4(tmp_path / "full.mp4", decode(CLIPS / "d20.mp4", 20))
    bad = truncated_copy(src, tmp_path / "cut.mp4", keep=0.6)
    with pytest.raises(ClipError, match=str(bad)):
        info = probe(bad)
        for _ in iter_frames(bad, resolution=32, expected=info.frame_count):
            pass


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"not a video at all" * 50])
def test_empty_or_garbage_file_is_a_clip_error(tmp_path, content):
    path = tmp_path / "zero.mp4"
    path.write_bytes(content)
    with pytest.raises(ClipError, match="zero.mp4"):
        probe(path)


def test_corrupt_image_and_empty_folder(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ClipError, match="cannot read image"):
        read_image(tmp_path / "x.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClipError, match="no .png/.jpg frames"):
        probe(tmp_path / "empty")


def test_photo_reads_as_one_square_frame():
    img = read_image(PHOTOS / "lp_d30.jpg", resolution=128)  # 600x900 portrait -> centre square
    assert img.shape == (3, 128, 128)
