"""A fast multipart/form-data field extractor for `/predict` uploads (bytes.find, no per-chunk Python)."""

from __future__ import annotations

import re

_NAME = re.compile(rb'content-disposition:[^\r\n]*?;\s*name=(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a multipart Content-Type; ValueError when there is none."""
    m = _BOUNDARY.search(content_type)
    if m is None:
        raise ValueError("multipart Content-Type without a boundary")
    return (m.group(1) or m.group(2)).encode("latin-1")


def form_field(body: bytes, boundary: bytes, name: str) -> bytes | None:
    """The content of the first part named `name`, None when there is none; ValueError when malformed."""
    delim = b"--" + boundary
    want = name.encode()
    pos = body.find(delim)
    if pos < 0:
        raise ValueError("multipart body without its boundary")
    while True:
        start = pos + len(delim)
        if body[start : start + 2] == b"--":
            return None  # the closing delimiter: no such field
        head_end = body.find(b"\r\n\r\n", start)
        if head_end < 0:
            raise ValueError("multipart part without a header end")
        end = body.find(b"\r\n" + delim, head_end + 4)
        if end < 0:
            raise ValueError("multipart part without a closing boundary")
        m = _NAME.search(body, start, head_end + 2)
        if m is not None and (m.group(1) if m.group(1) is not None else m.group(2)) == want:
            return body[head_end + 4 : end]
        pos = end + 2
