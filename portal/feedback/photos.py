"""Serving stored photos: the sniffed type, never sniffed again by the browser, shown inline, not cached."""

from flask import Response

from portal.feedback.uploads import extension


def photo_response(photo):
    """The photo bytes with safe headers."""
    name = f"photo-{photo.id}.{extension(photo.content_type)}"
    return Response(
        photo.data,
        mimetype=photo.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
