"""face-recognition on real photos: models present, same person matches, others and bad photos refused."""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from portal.faces import imaging
from portal.faces.vectors import FaceIndex, decode_vector, encode_vector
from tests import faces_support
from tests.faces_support import huge_photo, no_face, photo, small_face, two_faces

memo_faces = faces_support.memo_faces  # the fixture, under its own name here

MARKER = "FACE-MODELS-LOADED-7f3a"


def test_face_recognition_models_are_installed():
    """import face_recognition quits with status 0 when its models are missing: check a marker after it."""
    code = f"import face_recognition, face_recognition_models; print({MARKER!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert MARKER in done.stdout, (
        "face_recognition quit during import: its models are missing (setuptools>=81 has no pkg_resources?)\n"
        + done.stdout
        + done.stderr
    )


@pytest.fixture(scope="module")
def encodings():
    """Encodings of the three stored photos, computed once for this module."""
    out = {}
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        im = imaging.load_photo(photo(name))
        _, out[name] = imaging.analyse(im)
    return out


def _distance(a, b):
    return float(np.linalg.norm(a - b))


def test_same_person_matches_and_another_does_not(encodings):
    same = _distance(encodings["obama.jpg"], encodings["obama2.jpg"])
    other = _distance(encodings["obama.jpg"], encodings["biden.jpg"])
    assert same < 0.6 < other


def test_index_finds_the_enrolled_person_only(encodings):
    index = FaceIndex.from_rows([(11, encode_vector(encodings["obama.jpg"])), (22, encode_vector(encodings["biden.jpg"]))])
    hits = index.search(encodings["obama2.jpg"])
    assert [k for k, _ in hits] == [11]
    assert hits[0][1] == pytest.approx(_distance(encodings["obama.jpg"], encodings["obama2.jpg"]), abs=1e-4)


def test_index_agrees_with_face_recognition_distance():
    import face_recognition

    rng = np.random.default_rng(7)
    matrix = rng.normal(0, 0.09, size=(3000, 128)).astype(np.float32)
    query = matrix[1234] + rng.normal(0, 0.02, size=128).astype(np.float32)
    reference = face_recognition.face_distance(matrix.astype(np.float64), query.astype(np.float64))
    hits = FaceIndex(np.arange(3000) + 1, matrix).search(query, limit=3, threshold=10)
    assert hits[0][0] == int(np.argmin(reference)) + 1 == 1235
    assert [d for _, d in hits] == pytest.approx(sorted(reference)[:3], abs=1e-4)


def test_index_empty_and_threshold():
    assert FaceIndex.from_rows([]).search(np.zeros(128)) == []
    far = FaceIndex([1], np.ones((1, 128), dtype=np.float32))
    assert far.search(np.zeros(128)) == []


def test_encoding_round_trip_and_shape():
    vec = np.linspace(-0.2, 0.2, 128, dtype=np.float32)
    blob = encode_vector(vec)
    assert len(blob) == 512 and np.array_equal(decode_vector(blob), vec)
    with pytest.raises(ValueError):
        encode_vector(np.zeros(127))
    with pytest.raises(ValueError):
        encode_vector(np.full(128, np.nan))


@pytest.mark.parametrize("make, code", [(two_faces, "several_faces"), (no_face, "no_face"), (small_face, "face_too_small")])
def test_unusable_photos_are_refused(make, code, memo_faces):
    with pytest.raises(imaging.PhotoRefused) as info:
        imaging.analyse(imaging.load_photo(make()))
    assert info.value.code == code


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"GIF89a" + b"\0" * 40, b"\xff\xd8\xff\xe0 broken jpeg"])
def test_non_images_are_refused_by_their_bytes(data):
    with pytest.raises(imaging.PhotoRefused) as info:
        imaging.load_photo(data)
    assert info.value.code == "not_image"


def test_gif_is_not_accepted_even_if_valid():
    out = io.BytesIO()
    Image.new("RGB", (100, 100), "red").save(out, "GIF")
    with pytest.raises(imaging.PhotoRefused):
        imaging.load_photo(out.getvalue())


def test_oversized_upload_is_refused():
    with pytest.raises(imaging.PhotoRefused) as info:
        imaging.load_photo(b"\xff\xd8" + b"\0" * imaging.MAX_UPLOAD_BYTES)
    assert info.value.code == "too_large"


def test_terminal_jpeg_fits_hikvision_limits_and_drops_exif(memo_faces):
    big = huge_photo()
    assert b"SecretPhone" in big
    im = imaging.load_photo(big)
    assert max(im.size) == imaging.DETECT_SIDE
    box, _ = imaging.analyse(im)
    jpeg, size = imaging.terminal_jpeg(im, box)
    assert len(jpeg) <= 200 * 1024 and b"SecretPhone" not in jpeg and b"Exif" not in jpeg
    decoded = Image.open(io.BytesIO(jpeg))
    decoded.load()
    assert decoded.format == "JPEG" and decoded.size == size and max(size) <= 640


def test_terminal_jpeg_steps_quality_down_to_fit(memo_faces):
    im = imaging.load_photo(photo("obama.jpg"))
    box, _ = imaging.analyse(im)
    relaxed, _ = imaging.terminal_jpeg(im, box)
    tight, _ = imaging.terminal_jpeg(im, box, max_bytes=len(relaxed) // 3)
    assert len(tight) <= len(relaxed) // 3
    Image.open(io.BytesIO(tight)).load()
