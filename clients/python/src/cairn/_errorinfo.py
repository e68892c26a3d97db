"""Decoding google.rpc.Status / ErrorInfo without depending on googleapis-common-protos.

The messages are tiny and stable, so they are decoded with protobuf's wire-format
primitives: Status{code=1, message=2, details=3 (repeated Any)}, Any{type_url=1, value=2},
ErrorInfo{reason=1, domain=2, metadata=3 (map<string,string>)}.
"""

from __future__ import annotations

from typing import Dict, Iterator, Tuple

_ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[Tuple[int, int, object]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            return
        yield number, wire, value


def decode_error_info(status_bytes: bytes) -> Tuple[str, Dict[str, str]]:
    """(reason, metadata) of the first ErrorInfo in an encoded google.rpc.Status."""
    for number, wire, value in _fields(status_bytes):
        if number != 3 or wire != 2:
            continue
        type_url, payload = "", b""
        for n, w, v in _fields(value):  # type: ignore[arg-type]
            if n == 1 and w == 2:
                type_url = bytes(v).decode()  # type: ignore[arg-type]
            elif n == 2 and w == 2:
                payload = bytes(v)  # type: ignore[arg-type]
        if type_url != _ERROR_INFO_TYPE:
            continue
        reason, metadata = "", {}
        for n, w, v in _fields(payload):
            if n == 1 and w == 2:
                reason = bytes(v).decode()  # type: ignore[arg-type]
            elif n == 3 and w == 2:
                key, val = "", ""
                for mn, mw, mv in _fields(v):  # type: ignore[arg-type]
                    if mn == 1 and mw == 2:
                        key = bytes(mv).decode()  # type: ignore[arg-type]
                    elif mn == 2 and mw == 2:
                        val = bytes(mv).decode()  # type: ignore[arg-type]
                metadata[key] = val
        return reason, metadata
    return "", {}
