"""Just enough msgpack to slice and splice bytes without decoding values.

An export keeps each channel value's own serialized bytes. SQLite stores a checkpoint as one
msgpack map, so `split_checkpoint` cuts it into its frame and per-channel byte strings, and
`pack_map` puts such pre-encoded values back into a map. Nothing here decodes a value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

import msgpack

__all__ = [
    "array_header",
    "array_info",
    "channel_sizes",
    "max_depth",
    "pack_map",
    "shrink",
    "skip",
    "split_checkpoint",
]

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


_EXT_HEADERS = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}


def _step(b: int) -> int:
    if b <= 0x7F or b >= 0xE0:
        return 1
    if 0xA0 <= b <= 0xBF:
        return 1 + (b & 0x1F)
    if b in _EXT_HEADERS:
        return 2 + _EXT_HEADERS[b]
    return _FIXED.get(b, 0)


_STEP = bytes(_step(b) for b in range(256))
"""Bytes a value takes when its first byte tells (0: it does not)."""
_WIDTH = {b: size for b, (size, _ext) in _LEN.items()}
_EXT_LEN = frozenset({0xC7, 0xC8, 0xC9})


def max_depth(data: bytes, limit: int, budget: int = -1) -> int:
    """How deeply the msgpack object in ``data`` nests (a scalar is 0, ``[1]`` is 1).

    An extension is a value like a string: its own bytes are measured when they are decoded, by
    a call that starts below this one's depth. Stops and returns ``limit + 1`` as soon as the depth passes ``limit``, and
    -1 after ``budget`` values if one is given; iterative, so hostile nesting cannot exhaust the
    stack. Truncated data ends the count.
    """
    pos, size, depth, deepest = 0, len(data), 0, 0
    pending: list[int] = []  # items still to read in each open container
    try:
        while pos < size:
            budget -= 1
            if budget == -1:
                return -1
            b = data[pos]
            items = 0
            step = _STEP[b]
            if step:  # a value whose size its first byte tells
                pos += step
            elif b in _WIDTH:  # a string, binary or extension with its length in 1, 2 or 4 bytes
                width = _WIDTH[b]
                length = (
                    data[pos + 1] if width == 1 else int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
                )
                pos += 1 + width + length + (b in _EXT_LEN)
            else:
                items, header, factor = _container(data, pos)
                if items < 0:
                    return deepest
                pos += header
                items *= factor
            if items:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > limit:
                        return limit + 1
                pending.append(items)
                continue
            # one value done: close every container it completes
            while pending:
                pending[-1] -= 1
                if pending[-1]:
                    break
                pending.pop()
                depth -= 1
            if not pending:
                break
    except IndexError:
        pass
    return deepest


_STR_HEADERS = {0xD9: 1, 0xDA: 2, 0xDB: 4}
_BIN_HEADERS = {0xC4: 1, 0xC5: 2, 0xC6: 4}


def shrink(data: bytes, limit: int, placeholder: Callable[[str, bytes], bytes], *, _level: int = 0) -> bytes:
    """``data`` with every string or binary longer than ``limit`` bytes replaced by
    ``placeholder(kind, payload)`` (msgpack bytes; ``kind`` is ``str`` or ``bytes``), looking into
    extensions (whose own bytes are msgpack) that are longer than ``limit``. Containers keep their
    item counts, so the structure is unchanged. One linear pass over the top-level tokens."""
    out: list[bytes] = []
    pos = copied = 0
    size = len(data)
    while pos < size:
        b = data[pos]
        start = pos
        if 0xA0 <= b <= 0xBF:
            pos += 1 + (b & 0x1F)
            continue
        if b in _STR_HEADERS or b in _BIN_HEADERS:
            width = _STR_HEADERS.get(b) or _BIN_HEADERS[b]
            length = _uint(data, pos + 1, width)
            body = pos + 1 + width
            pos = body + length
            if length > limit:
                out += [
                    data[copied:start],
                    placeholder("str" if b in _STR_HEADERS else "bytes", data[body:pos]),
                ]
                copied = pos
            continue
        if b in (0xC7, 0xC8, 0xC9):
            width = _LEN[b][0]
            length = _uint(data, pos + 1, width)
            body = pos + 2 + width
            pos = body + length
            if length > limit and _level < 32:
                inner = shrink(data[body:pos], limit, placeholder, _level=_level + 1)
                code = data[body - 1 : body]
                out += [data[copied:start], b"\xc9" + struct.pack(">I", len(inner)) + code + inner]
                copied = pos
            continue
        if b in _EXT_HEADERS:
            pos += 2 + _EXT_HEADERS[b]
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b <= 0x7F or b >= 0xE0:
            pos += 1
        else:
            items, header, _factor = _container(data, pos)
            if items < 0:
                break  # not msgpack: leave the rest to the decoder, which says what is wrong
            pos += header
    if not out:
        return data
    out.append(data[copied:])
    return b"".join(out)


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


def channel_sizes(blob: bytes) -> dict[str, int]:
    """Each channel value's size in bytes in a checkpoint map (as `split_checkpoint` would cut
    them), without copying or decoding a value. Raises ValueError when ``blob`` is not a map."""
    unpacker = msgpack.Unpacker(None, raw=False, strict_map_key=False, max_buffer_size=max(len(blob), 1))
    sizes: dict[str, int] = {}
    try:
        unpacker.feed(blob)
        for _ in range(unpacker.read_map_header()):
            if unpacker.unpack() != "channel_values":
                unpacker.skip()
                continue
            for _ in range(unpacker.read_map_header()):
                name = unpacker.unpack()
                at = unpacker.tell()
                unpacker.skip()
                sizes[name if isinstance(name, str) else repr(name)] = unpacker.tell() - at
    except msgpack.OutOfData:
        raise ValueError(_EOF) from None
    except (msgpack.UnpackException, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return sizes


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
