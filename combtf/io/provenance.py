"""The machine-readable note that an image holds a synthetic (swapped) face.

Two forms in every PNG: a plain `Synthetic` text chunk for quick checks, and an XMP packet
with IPTC's DigitalSourceType `trainedAlgorithmicMedia`, the term that image tools and
content-credential readers look for.
"""
from __future__ import annotations

import struct
import zlib
from xml.sax.saxutils import escape

import combtf

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def note(model: str) -> str:
    return f"synthetic: face swapped by combtf {combtf.__version__} with model {model}"


def png_text(model: str, extra: str = "") -> dict[str, str]:
    """Text chunks for a PNG that contains a swapped face made by `model`."""
    description = note(model) + (f"; {extra}" if extra else "")
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}">'
        f"<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{escape(description)}</rdf:li></rdf:Alt></dc:description>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    return {"Synthetic": "true", "Description": description, "Software": f"combtf {combtf.__version__}", "XML:com.adobe.xmp": xmp}


def png_text_chunk(key: bytes, text: bytes) -> bytes:
    """One PNG tEXt chunk, for PNGs encoded where PIL is not at hand (inside a SavedModel's graph)."""
    body = b"tEXt" + key + b"\0" + text
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def plate_attributes(model: str, suffix: str) -> dict[str, str]:
    """Header attributes for a plate that contains a swapped face: EXR and PNG keep every one; TIFF keeps the
    description and software, DPX a description cut to its 32-byte field, hence the short form there."""
    description = note(model) if suffix.lower() != ".dpx" else "synthetic: combtf face swap"
    return {"ImageDescription": description, "Software": f"combtf {combtf.__version__}", "Synthetic": "true",
            "DigitalSourceType": DIGITAL_SOURCE_TYPE}  # fmt: skip
