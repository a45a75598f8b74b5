"""Permit documents: a photo cleaned like a complaint photo, or a PDF sniffed from its bytes; both size-capped."""

import hashlib
import re

from portal.core.errors import Refused
from portal.feedback import uploads

MAX_DOCUMENT_BYTES = uploads.MAX_PHOTO_BYTES
MAX_DOCUMENTS = 12
# The whole upload: every document plus the form fields, checked before anything is parsed.
MAX_REQUEST_BYTES = MAX_DOCUMENTS * MAX_DOCUMENT_BYTES + 512 * 1024
FIELDS = {"licence": "licence", "worker_ids": "worker_id", "documents": "other"}
_PDF_END = re.compile(rb"%%EOF\s*$")


class CleanDocument:
    """A document ready to store."""

    def __init__(self, kind, data, content_type):
        self.kind = kind
        self.data = data
        self.content_type = content_type
        self.sha256 = hashlib.sha256(data).hexdigest()


def _refuse(code, message, kind="invalid", **params):
    raise Refused(code, message, fields={"documents": (code, message, params)}, kind=kind, **params)


def clean(kind, raw):
    """One uploaded document: a PDF kept as sent (header and trailer checked), anything else must be a photo."""
    if not raw:
        _refuse("document_empty", "The document is empty.")
    if len(raw) > MAX_DOCUMENT_BYTES:
        _refuse("document_too_large", "Each document may be at most %(mb)s MB.", kind="too_large", mb=MAX_DOCUMENT_BYTES // 2**20)
    if raw.startswith(b"%PDF-"):
        if not _PDF_END.search(raw[-1024:]):
            _refuse("document_type", "Only photos (JPEG, PNG, WebP) or PDF files are accepted.")
        return CleanDocument(kind, raw, "application/pdf")
    try:
        photo = uploads.clean(raw)
    except Refused as exc:  # the photo's reason, under the form's documents field; "not a photo" names PDF too
        if exc.code != "photo_type":
            _refuse(exc.code, exc.message, exc.kind, **exc.params)
        _refuse("document_type", "Only photos (JPEG, PNG, WebP) or PDF files are accepted.")
    return CleanDocument(kind, photo.data, photo.content_type)


def from_files(files):
    """Every document of a multipart request (fields licence, worker_ids, documents); empty inputs skipped."""
    found = []
    for field, kind in FIELDS.items():
        for item in files.getlist(field):
            if item and item.filename is not None:
                raw = item.stream.read(MAX_DOCUMENT_BYTES + 1)
                if raw:
                    found.append((kind, raw))
    if len(found) > MAX_DOCUMENTS:
        _refuse("too_many_documents", "At most %(n)s documents per permit.", n=MAX_DOCUMENTS)
    return [clean(kind, raw) for kind, raw in found]


def guard_request(request):
    """Refuse an oversized upload before any byte is parsed."""
    request.max_content_length = MAX_REQUEST_BYTES
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return Refused("too_large", "The upload is too large.", kind="too_large")
    return None
