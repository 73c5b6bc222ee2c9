"""Just enough msgpack to slice and splice bytes without decoding values.

An export keeps each channel value's own serialized bytes. SQLite stores a checkpoint as one
msgpack map, so `channel_slices` cuts ``channel_values`` into per-channel byte strings, and
`pack_map` puts such pre-encoded values back into a map. Nothing here decodes a value.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import msgpack

__all__ = ["array_header", "array_info", "channel_slices", "pack_map", "skip", "split_checkpoint"]

_FIXED = {
    0xC0: 1,
    0xC2: 1,
    0xC3: 1,
    0xCA: 5,
    0xCB: 9,
    0xCC: 2,
    0xCD: 3,
    0xCE: 5,
    0xCF: 9,
    0xD0: 2,
    0xD1: 3,
    0xD2: 5,
    0xD3: 9,
    0xD4: 3,
    0xD5: 4,
    0xD6: 6,
    0xD7: 10,
    0xD8: 18,
}
_LEN = {
    0xC4: (1, 0),
    0xC5: (2, 0),
    0xC6: (4, 0),
    0xD9: (1, 0),
    0xDA: (2, 0),
    0xDB: (4, 0),
    0xC7: (1, 1),
    0xC8: (2, 1),
    0xC9: (4, 1),
}
_FMT = {1: ">B", 2: ">H", 4: ">I"}


def _uint(data: bytes, pos: int, size: int) -> int:
    value: int = struct.unpack_from(_FMT[size], data, pos)[0]
    return value


def _container(data: bytes, pos: int) -> tuple[int, int, int]:
    """(items, header size, per-item factor) of the array or map at ``pos``; items 0 if neither."""
    b = data[pos]
    if 0x90 <= b <= 0x9F:
        return b & 0x0F, 1, 1
    if 0x80 <= b <= 0x8F:
        return b & 0x0F, 1, 2
    if b in (0xDC, 0xDE):
        return _uint(data, pos + 1, 2), 3, 1 if b == 0xDC else 2
    if b in (0xDD, 0xDF):
        return _uint(data, pos + 1, 4), 5, 1 if b == 0xDD else 2
    return -1, 0, 0


_EOF = "unexpected end of file"


def skip(data: bytes, pos: int) -> int:
    """The position just past the msgpack object starting at ``pos``; ValueError if there is none."""
    try:
        return _skip(data, pos)
    except (IndexError, struct.error):
        raise ValueError(_EOF) from None


def _skip(data: bytes, pos: int) -> int:
    pending = 1
    while pending:
        pending -= 1
        b = data[pos]
        if b <= 0x7F or b >= 0xE0:
            pos += 1
        elif 0xA0 <= b <= 0xBF:
            pos += 1 + (b & 0x1F)
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in _LEN:
            size, ext = _LEN[b]
            pos += 1 + size + ext + _uint(data, pos + 1, size)
        else:
            items, header, factor = _container(data, pos)
            if items < 0:
                raise ValueError(f"not msgpack at byte {pos} (0x{b:02x})")
            pos += header
            pending += items * factor
        if pos > len(data):
            raise ValueError(_EOF)
    return pos


def _str_at(data: bytes, pos: int) -> tuple[str, int]:
    b = data[pos]
    if 0xA0 <= b <= 0xBF:
        start, size = pos + 1, b & 0x1F
    elif b in (0xD9, 0xDA, 0xDB):
        width = _LEN[b][0]
        start, size = pos + 1 + width, _uint(data, pos + 1, width)
    else:
        end = skip(data, pos)
        return data[pos:end].hex(), end  # a non-string key: keep it unique, never decode it
    return data[start : start + size].decode("utf-8"), start + size


def channel_slices(checkpoint_blob: bytes) -> dict[str, bytes]:
    """Each ``channel_values`` entry's raw msgpack bytes, by channel name."""
    return split_checkpoint(checkpoint_blob)[1]


def split_checkpoint(blob: bytes) -> tuple[bytes, dict[str, bytes]]:
    """A checkpoint map cut in two without decoding a value: the map of every entry but
    ``channel_values`` (small: versions, ids, timestamps), and each channel value's bytes.

    Raises ValueError when ``blob`` is not a msgpack map. The msgpack library's C unpacker
    only walks the values here (``skip``): nothing in them is built."""
    unpacker = msgpack.Unpacker(None, raw=False, strict_map_key=False, max_buffer_size=max(len(blob), 1))
    try:
        unpacker.feed(blob)
        kept: list[bytes] = []
        channels: dict[str, bytes] = {}
        for _ in range(unpacker.read_map_header()):
            start = unpacker.tell()
            key = unpacker.unpack()
            if key != "channel_values":
                unpacker.skip()
                kept.append(blob[start : unpacker.tell()])
                continue
            for _ in range(unpacker.read_map_header()):
                name = unpacker.unpack()
                at = unpacker.tell()
                unpacker.skip()
                channels[name if isinstance(name, str) else repr(name)] = blob[at : unpacker.tell()]
    except msgpack.OutOfData:
        raise ValueError(_EOF) from None
    except (msgpack.UnpackException, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return _map_header(len(kept)) + b"".join(kept), channels


def array_info(data: bytes) -> tuple[int, int] | None:
    """``(items, header size)`` of the msgpack array ``data`` holds, or None if it holds another type."""
    if not data:
        return None
    items, header, factor = _container(data, 0)
    return (items, header) if factor == 1 else None


def array_header(n: int) -> bytes:
    """The msgpack header of an array of ``n`` items."""
    if n <= 15:
        return bytes([0x90 | n])
    if n <= 0xFFFF:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def _map_header(n: int) -> bytes:
    if n <= 15:
        return bytes([0x80 | n])
    if n <= 0xFFFF:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def pack_map(encoded: Mapping[str, bytes]) -> bytes:
    """A msgpack map of string keys to values that are already msgpack bytes."""
    import ormsgpack

    return _map_header(len(encoded)) + b"".join(ormsgpack.packb(k) + v for k, v in encoded.items())
