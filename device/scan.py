"""Reading a permit's QR code from a picture, with zxing-cpp (no home-made decoder)."""

from pathlib import Path

import zxingcpp
from PIL import Image

_QR_FORMATS = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode)


def read_qr_text(image_path: Path) -> str | None:
    """The text of the first QR code in the picture, or None when there is none."""
    with Image.open(image_path) as image:
        results = zxingcpp.read_barcodes(image.convert("L"))
    for result in results:
        if result.format in _QR_FORMATS and result.valid:
            text: str = result.text
            return text
    return None
