"""Photo uploads: type sniffed from the bytes, size capped, metadata (EXIF, GPS) dropped by re-encoding."""

import hashlib
import io
import math
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from portal.core.errors import ApiError, Refused

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 3
# The whole upload request: three photos plus the form fields; checked before anything is parsed.
MAX_REQUEST_BYTES = MAX_PHOTOS * MAX_PHOTO_BYTES + 512 * 1024
MAX_PIXELS = 40_000_000  # larger is a decompression bomb, not a phone photo
# What one photo may cost once decoded, checked from the header before any pixel is decoded: a JPEG is decoded
# at a reduced scale (draft) near MAX_SIDE, so a 48-MP phone photo stays cheap; PNG and WebP have no such
# shortcut, so they are refused above 4096 x 4096 (three all-zero 6300 x 6300 PNGs, small on the wire, tied up a
# worker's time and memory before this check).
MAX_DECODED_PIXELS = 4096 * 4096
MAX_SIDE = 2560  # stored photos are scaled down to this; enough to read a number plate
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class CleanPhoto:
    """A re-encoded photo ready to store."""

    def __init__(self, data, content_type, width, height):
        self.data = data
        self.content_type = content_type
        self.width = width
        self.height = height
        self.sha256 = hashlib.sha256(data).hexdigest()


def _refuse(code, message, kind="invalid", **params):
    raise Refused(code, message, fields={"photos": (code, message, params)}, kind=kind, **params)


def _open(raw):
    """Open and verify; Pillow decides the type from the bytes, never from the name."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(raw))
            fmt = probe.format
            if fmt not in FORMATS:
                _refuse("photo_type", "Only JPEG, PNG or WebP photos are accepted.")
            if probe.width * probe.height > MAX_PIXELS:
                _refuse("photo_pixels", "The photo has too many pixels.")
            _budget(probe)
            probe.verify()
            img = Image.open(io.BytesIO(raw))
            _budget(img)
            img.load()
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            EOFError,
        ):
            _refuse("photo_type", "Only JPEG, PNG or WebP photos are accepted.")
    return img, fmt


def _budget(img):
    """Shrink a JPEG's decode to near MAX_SIDE, then refuse what would still decode to too many pixels."""
    if img.format == "JPEG" and max(img.size) > MAX_SIDE:
        scale = MAX_SIDE / max(img.size)  # the size thumbnail() makes later; the decoder stops at the scale above it
        target = (max(1, math.ceil(img.width * scale)), max(1, math.ceil(img.height * scale)))
        img.draft(img.mode if img.mode in ("RGB", "L") else "RGB", target)
    width, height = img.size
    if width * height > MAX_DECODED_PIXELS:
        _refuse(
            "photo_pixels",
            "The photo has too many pixels: a PNG or WebP photo may have at most 16 megapixels "
            "(4096 x 4096). Send a smaller one or a JPEG.",
        )


def clean(raw):
    """Check one uploaded photo and return it re-encoded without any metadata."""
    if not raw:
        _refuse("photo_empty", "The photo is empty.")
    if len(raw) > MAX_PHOTO_BYTES:
        _refuse("photo_too_large", "Each photo may be at most %(mb)s MB.", kind="too_large", mb=MAX_PHOTO_BYTES // (1024 * 1024))
    img, fmt = _open(raw)
    # Apply the camera's rotation before the EXIF that carries it is dropped.
    img = ImageOps.exif_transpose(img)
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
    if fmt == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    elif img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "A" in img.getbands() or img.mode == "P" else "RGB")
    # A fresh image from the pixels alone: no EXIF, GPS, XMP, ICC, text chunks or comments survive.
    bare = Image.new(img.mode, img.size)
    bare.paste(img)
    out = io.BytesIO()
    if fmt == "JPEG":
        bare.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        bare.save(out, "PNG", optimize=True)
    else:
        bare.save(out, "WEBP", quality=85)
    content_type, _ = FORMATS[fmt]
    return CleanPhoto(out.getvalue(), content_type, bare.width, bare.height)


def extension(content_type):
    """File extension for a stored content type."""
    if content_type == "application/pdf":
        return "pdf"  # a permit's document (portal.permits.documents)
    for ctype, ext in FORMATS.values():
        if ctype == content_type:
            return ext
    return "bin"


def from_files(files):
    """Clean every uploaded photo of a multipart request (field "photos"); empty file inputs are skipped."""
    items = [f for f in files.getlist("photos") if f and f.filename is not None]
    raws = []
    for item in items:
        raw = item.stream.read(MAX_PHOTO_BYTES + 1)
        if raw:
            raws.append(raw)
    if len(raws) > MAX_PHOTOS:
        _refuse("too_many_photos", "At most 3 photos per filing.")
    return [clean(raw) for raw in raws]


def guard_request(request):
    """Refuse oversized uploads before any byte is parsed (a per-route cap, the global config is untouched)."""
    request.max_content_length = MAX_REQUEST_BYTES
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return ApiError(413, "too_large", "The upload is too large: at most 3 photos of 5 MB each.")
    return None
