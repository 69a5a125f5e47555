"""Proof-of-delivery images: verified by decoding, re-encoded without metadata.

Pure and blocking (Pillow): the caller runs it in a thread, a few at a time. What the
client says the file is (content type, file name) is never believed: the decoded format
decides. The pixel count comes from the header and is checked before anything is
decoded, so a small file declaring a huge image (a decompression bomb) costs nothing.
EXIF (which carries where the photo was taken), XMP, ICC and text chunks are all dropped;
the EXIF orientation is applied to the pixels first, so the picture still stands upright.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
JPEG_QUALITY = 85
WEBP_QUALITY = 80


class BadImage(ValueError):
    """The upload is not an image we keep; the message names the part and the problem."""


@dataclass(frozen=True, slots=True)
class Encoded:
    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Limits:
    max_pixels: int
    max_px: int  # the stored image's longest edge
    thumb_px: int


def photo(data: bytes, limits: Limits) -> tuple[Encoded, Encoded]:
    """The photo and its thumbnail. JPEG and PNG become JPEG (a photo as PNG is needlessly
    large); WebP stays WebP."""
    image, source = _decode(data, "photo", limits)
    out = "WEBP" if source == "WEBP" else "JPEG"
    if image.mode not in ("RGB", "L"):
        image = _flatten(image)
    image.thumbnail((limits.max_px, limits.max_px))
    thumb = image.copy()
    thumb.thumbnail((limits.thumb_px, limits.thumb_px))
    return _encode(image, out), _encode(thumb, out)


def signature(data: bytes, limits: Limits) -> Encoded:
    """A signature keeps its format (a PNG stays PNG, transparency and all)."""
    image, source = _decode(data, "signature", limits)
    if source == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    image.thumbnail((limits.max_px, limits.max_px))
    return _encode(image, source)


def _decode(data: bytes, part: str, limits: Limits) -> tuple[Image.Image, str]:
    Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow's own check, at open, as a backstop
    # Pillow's decoders answer hostile bytes with many kinds of exception (OSError,
    # SyntaxError, struct.error, ValueError, ...): any of them means the upload is refused.
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"{part}: more than {limits.max_pixels} pixels") from None
    except Exception:  # UnidentifiedImageError, mostly
        raise BadImage(f"{part}: not an image (JPEG, PNG or WebP)") from None
    source = image.format or ""
    if source not in ACCEPTED:
        raise BadImage(f"{part}: {source or 'this'} format is not accepted: JPEG, PNG or WebP")
    width, height = image.size
    if width * height > limits.max_pixels:
        raise BadImage(
            f"{part}: {width}x{height} is more than {limits.max_pixels} pixels "
            "(TRACKER_PROOF_MAX_PIXELS)"
        )
    if source == "JPEG":  # decode at a reduced scale when only a smaller image is kept
        image.draft("RGB", (limits.max_px, limits.max_px))
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)  # a copy; orientation applied
    except Exception:
        raise BadImage(f"{part}: the image data is damaged or truncated") from None
    upright.info.clear()  # nothing of the original's metadata goes on
    return upright, source


def _flatten(image: Image.Image) -> Image.Image:
    """An RGB image; transparency becomes white (JPEG has none)."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _encode(image: Image.Image, fmt: str) -> Encoded:
    image.info.clear()
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY)
    else:
        image.save(buffer, "PNG", optimize=True)
    return Encoded(buffer.getvalue(), ACCEPTED[fmt], image.width, image.height)
