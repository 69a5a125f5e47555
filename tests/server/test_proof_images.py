"""Proof images as pure functions (server/usecases/proof_images.py): every kind of image a
phone or a signature pad makes comes out clean, and hostile bytes are refused with
BadImage, never another exception (that would be a 500)."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from server.usecases import proof_images
from server.usecases.proof_images import BadImage, Limits
from tests.server import images

LIMITS = Limits(max_pixels=50_000_000, max_px=2048, thumb_px=320)


def _encoded(mode: str, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (50, 40)).save(buffer, fmt, **options)
    return buffer.getvalue()


KINDS = [
    ("I;16", "PNG", {}),
    ("1", "PNG", {}),
    ("P", "PNG", {"transparency": 0}),
    ("LA", "PNG", {}),
    ("CMYK", "JPEG", {}),
    ("L", "JPEG", {}),
    ("RGBA", "WEBP", {}),
]


@pytest.mark.parametrize(("mode", "fmt", "options"), KINDS)
def test_every_mode_is_re_encoded_without_metadata(
    mode: str, fmt: str, options: dict[str, object]
) -> None:
    data = _encoded(mode, fmt, **options)
    photo, thumb = proof_images.photo(data, LIMITS)
    signature = proof_images.signature(data, LIMITS)
    for out in (photo, thumb, signature):
        image = Image.open(io.BytesIO(out.data))
        assert image.format == {"image/jpeg": "JPEG", "image/png": "PNG",
                                "image/webp": "WEBP"}[out.media_type]  # fmt: skip
        assert len(image.getexif()) == 0 and (image.width, image.height) == (50, 40)
    assert signature.media_type == {"JPEG": "image/jpeg", "PNG": "image/png",
                                    "WEBP": "image/webp"}[fmt]  # fmt: skip


def test_a_large_photo_is_scaled_down_and_a_bomb_is_refused_from_its_header() -> None:
    photo, thumb = proof_images.photo(images.phone_photo((3000, 2000)), LIMITS)
    assert (photo.width, photo.height) == (1365, 2048)  # turned upright, then scaled
    assert (thumb.width, thumb.height) == (213, 320)
    with pytest.raises(BadImage, match="more than 50000000 pixels"):
        proof_images.signature(images.png_bomb(), LIMITS)
    with pytest.raises(BadImage, match="more than 1000000 pixels"):
        proof_images.photo(images.png_bomb(8000, 8000), Limits(1_000_000, 2048, 320))


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2048),
        st.tuples(st.integers(0, 3000), st.binary(min_size=1, max_size=64)).map(
            lambda cut: images.truncated_jpeg()[: cut[0]] + cut[1]
        ),
        st.tuples(st.integers(8, 400), st.binary(min_size=1, max_size=16)).map(
            lambda cut: images.signature_png()[: cut[0]] + cut[1] + images.signature_png()[cut[0] :]
        ),
    )
)
def test_hostile_bytes_are_refused_with_bad_image_only(data: bytes) -> None:
    for process in (proof_images.photo, proof_images.signature):
        with contextlib.suppress(BadImage):  # any other exception fails the test
            process(data, LIMITS)
