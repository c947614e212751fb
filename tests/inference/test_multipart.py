"""The `/predict` multipart extractor: the named field's bytes, exactly; malformed bodies are ValueErrors."""

from __future__ import annotations

import pytest

from inference.http.multipart import boundary_of, form_field

B = b"XyZ123"
JPEG = b"\xff\xd8 binary \r\n--XyZ12 almost a boundary \r\n\r\n \xff\xd9"


def _body(*parts: tuple[str, bytes]) -> bytes:
    out = b""
    for name, data in parts:
        out += b"--" + B + b"\r\n"
        out += f'Content-Disposition: form-data; name="{name}"; filename="f.jpg"\r\n'.encode()
        out += b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n"
    return out + b"--" + B + b"--\r\n"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param([("image", JPEG)], JPEG, id="only-field"),
        pytest.param([("meta", b"{}"), ("image", JPEG)], JPEG, id="second-field"),
        pytest.param([("image", b"")], b"", id="empty-field"),
        pytest.param([("picture", JPEG)], None, id="no-such-field"),
        pytest.param([("animage", JPEG)], None, id="name-is-exact"),
    ],
)
def test_the_named_field_is_returned_byte_for_byte(
    parts: list[tuple[str, bytes]], expected: bytes | None
) -> None:
    assert form_field(_body(*parts), B, "image") == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"no boundary here", id="no-boundary"),
        pytest.param(b"--" + B + b'\r\nContent-Disposition: form-data; name="image"', id="no-header-end"),
        pytest.param(
            b"--" + B + b'\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc', id="unterminated"
        ),
    ],
)
def test_malformed_bodies_are_value_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        form_field(body, B, "image")


def test_the_boundary_comes_from_the_content_type_quoted_or_not() -> None:
    assert boundary_of("multipart/form-data; boundary=abc") == b"abc"
    assert boundary_of('multipart/form-data; boundary="a b;c"') == b"a b;c"
    with pytest.raises(ValueError):
        boundary_of("multipart/form-data")


@pytest.mark.parametrize(
    "disposition",
    [
        pytest.param(b'form-data; name="image"', id="quoted"),
        pytest.param(b"form-data; name=image", id="unquoted-token"),
        pytest.param(b'form-data; filename="name=image.jpg"; name=image', id="filename-first"),
        pytest.param(b"form-data;name=image;filename=f.jpg", id="no-spaces"),
    ],
)
def test_field_name_may_be_quoted_or_a_bare_token(disposition: bytes) -> None:
    body = b"--" + B + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + JPEG + b"\r\n--" + B + b"--"
    assert form_field(body, B, "image") == JPEG
