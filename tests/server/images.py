"""Images for upload tests, made with Pillow: a phone photo with GPS in its EXIF, a
signature, and the things that must be refused (another format, a truncated file, a
decompression bomb)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import ExifTags, Image

ORIENTATION_ROTATE_90 = 6  # EXIF: the camera was held sideways; show it turned 90° clockwise


def _noise(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """Photo-like content (incompressible), so a truncated file really lacks pixels."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def phone_photo(size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG as a phone takes it: EXIF with GPS coordinates, orientation and camera make."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = ORIENTATION_ROTATE_90
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (50.0, 18.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (11.0, 55.0, 12.0)
    buffer = io.BytesIO()
    _noise(size).save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def signature_png() -> bytes:
    image = Image.new("RGBA", (400, 150), (0, 0, 0, 0))
    for x in range(20, 380):
        image.putpixel((x, 75 + (x % 40) - 20), (0, 0, 80, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(buffer, "GIF")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    _noise((400, 300)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    return data[: len(data) // 2]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid PNG header declaring width x height RGB pixels in a few hundred bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)  # the start of the first row; the rest never comes
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )
