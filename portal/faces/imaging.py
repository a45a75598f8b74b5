"""Photos in, encodings and terminal JPEGs out; nothing here touches the database."""

import io
import logging
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from portal.core.errors import Refused

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 50 MP phone photo; more is a decompression bomb
FORMATS = {"JPEG", "PNG", "WEBP"}
DETECT_SIDE = 800  # HOG's time grows with the pixels; on a full phone photo it is too slow for a request
MIN_FACE_PX = 80  # on the downscaled photo; smaller faces match poorly on terminals
TERMINAL_SIDE = 640
TERMINAL_MAX_BYTES = 200 * 1024  # Hikvision FDLib limit


def N_(text):
    """Mark a msgid for extraction; it is translated where it is shown."""
    return text


# English msgids; the page and the API show them in both languages.
MESSAGES = {
    "not_image": N_("This file is not a photo. Please upload a JPEG, PNG or WebP picture."),
    "too_large": N_("This photo is too large. Please upload a picture under 8 MB."),
    "no_face": N_("No face was found in this photo. Take a photo of your face in good light, looking at the camera."),
    "several_faces": N_("There is more than one face in this photo. Take a photo with only your face in it."),
    "face_too_small": N_("Your face is too small in this photo. Hold the camera closer so your face fills more of the picture."),
}

# The same refusals worded for a guard searching with someone else's photo (the desk's 1:N search).
STAFF_MESSAGES = MESSAGES | {
    "no_face": N_("No face was found in this photo. Use a clear, front-facing picture."),
    "several_faces": N_("There is more than one face in this photo. Crop it to the one person."),
    "face_too_small": N_("The face is too small in this photo. Use a closer picture."),
}


class PhotoRefused(Refused):
    """The upload cannot be used (a 400 refusal); code is one of MESSAGES."""

    def __init__(self, code):
        super().__init__(code, MESSAGES[code])


def load_photo(data, side=DETECT_SIDE):
    """Decode an upload by its bytes (never its name), upright, RGB, at most `side` px; EXIF is dropped."""
    if not data:
        raise PhotoRefused("not_image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in FORMATS:
                raise PhotoRefused("not_image")
            if im.width * im.height > MAX_PIXELS:
                raise PhotoRefused("too_large")
            # JPEG can decode at 1/2, 1/4, 1/8 scale directly: much faster for big phone photos.
            im.draft("RGB", (side * 2, side * 2))
            im = ImageOps.exif_transpose(im)
            im = im.convert("RGB")
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise PhotoRefused("not_image") from None
    im.thumbnail((side, side), Image.LANCZOS)
    return im


def locate_and_encode(pixels):
    """Face boxes (top, right, bottom, left) and their 128-d encodings for an RGB array."""
    import face_recognition

    boxes = face_recognition.face_locations(pixels, number_of_times_to_upsample=1)
    if len(boxes) != 1:
        return boxes, []
    return boxes, face_recognition.face_encodings(pixels, known_face_locations=boxes)


def analyse(im):
    """The one face of a photo: (box, float32 encoding), or PhotoRefused."""
    import numpy as np  # here, not at the top: see portal.faces.vectors

    pixels = np.asarray(im)
    boxes, encodings = locate_and_encode(pixels)
    if not boxes:
        raise PhotoRefused("no_face")
    if len(boxes) > 1:
        raise PhotoRefused("several_faces")
    top, right, bottom, left = boxes[0]
    if min(bottom - top, right - left) < MIN_FACE_PX:
        raise PhotoRefused("face_too_small")
    return boxes[0], np.asarray(encodings[0], dtype=np.float32)


def portrait_crop(im, box):
    """A 3:4 portrait around the face with room for hair and chin, as terminals expect."""
    top, right, bottom, left = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    w = (right - left) * 2.2
    h = w * 4 / 3
    x0, y0 = max(0, int(cx - w / 2)), max(0, int(cy - h * 0.45))
    x1, y1 = min(im.width, int(cx + w / 2)), min(im.height, int(cy + h * 0.55))
    return im.crop((x0, y0, x1, y1))


def terminal_jpeg(im, box, max_bytes=TERMINAL_MAX_BYTES, side=TERMINAL_SIDE):
    """JPEG of the face for terminals: longest side <= `side`, quality stepped down until <= max_bytes."""
    photo = portrait_crop(im, box)
    photo.thumbnail((side, side), Image.LANCZOS)
    while True:
        for quality in (90, 80, 70, 60, 50, 40):
            out = io.BytesIO()
            # No exif= argument: the saved file carries no metadata.
            photo.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue(), photo.size
        if max(photo.size) <= 160:
            raise PhotoRefused("too_large")
        photo = photo.resize((int(photo.width * 0.8), int(photo.height * 0.8)), Image.LANCZOS)
