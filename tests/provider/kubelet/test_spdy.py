"""SPDY/3 framing: the dictionary, round trips, frames as spdystream writes them, malformed input refused.

The vectors were produced with moby/spdystream v0.5.1's own Framer (the peer the API server and
kubectl use), see docs/design/streaming-findings.md section 3. Compressed header bytes differ between
Go's and C's zlib, so vectors are decoded and compared as frames, never byte for byte on encode.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from provider.kubelet import spdy

GO_FRAMES = {
    "syn_stream_error": (
        "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff"
    ),
    "syn_stream_stdout": "800300010000001900000003000000000000c22ac5565c92925f5a02000000ffff",
    "syn_reply": "800300020000000e000000016260606000000000ffff",
    "ping": "800300060000000400000001",
    "data_fin": "00000003010000026869",
    "rst_cancel": "80030003000000080000000300000005",
    "goaway": "80030007000000080000000500000000",
    "window_update": "80030009000000080000000100010000",
}


def test_the_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest().startswith("51d27341")


def test_frames_written_by_spdystream_are_read() -> None:
    reader = spdy.FrameReader()
    stream = b"".join(bytes.fromhex(GO_FRAMES[name]) for name in GO_FRAMES)
    frames = reader.feed(stream)
    assert frames == [
        spdy.SynStream(1, {"streamtype": ["error"]}),
        spdy.SynStream(3, {"streamtype": ["stdout"]}),
        spdy.SynReply(1, {}),
        spdy.Ping(1),
        spdy.DataFrame(3, b"hi", fin=True),
        spdy.RstStream(3, spdy.CANCEL),
        spdy.GoAway(5, 0),
        spdy.WindowUpdate(1, 65536),
    ]


def test_frames_arriving_a_byte_at_a_time_are_read_the_same() -> None:
    reader = spdy.FrameReader()
    stream = bytes.fromhex(GO_FRAMES["syn_stream_error"] + GO_FRAMES["data_fin"])
    frames = [frame for i in range(len(stream)) for frame in reader.feed(stream[i : i + 1])]
    assert frames == [spdy.SynStream(1, {"streamtype": ["error"]}), spdy.DataFrame(3, b"hi", fin=True)]


def test_fixed_frames_encode_exactly_as_spdystream_writes_them() -> None:
    codec = spdy.HeaderCodec()
    for name, frame in {
        "ping": spdy.Ping(1),
        "data_fin": spdy.DataFrame(3, b"hi", fin=True),
        "rst_cancel": spdy.RstStream(3, spdy.CANCEL),
        "goaway": spdy.GoAway(5, 0),
        "window_update": spdy.WindowUpdate(1, 65536),
    }.items():
        assert spdy.encode(frame, codec).hex() == GO_FRAMES[name], name


@pytest.mark.parametrize(
    "frame",
    [
        spdy.SynStream(5, {"streamtype": ["stdin"], "port": ["8080"]}, associated_id=0, priority=3, fin=True),
        spdy.SynReply(5, {"x-stream-protocol-version": ["v4.channel.k8s.io"]}),
        spdy.HeadersFrame(7, {"several": ["a", "b"]}, fin=True),
        spdy.Settings(((0, 4, 100), (1, 7, 65536))),
        spdy.DataFrame(9, b"\x00" * 70_000),
        spdy.DataFrame(11, b"", fin=True),
    ],
    ids=["syn_stream", "syn_reply", "headers", "settings", "large data", "empty fin"],
)
def test_frames_round_trip(frame: spdy.Frame) -> None:
    assert spdy.FrameReader().feed(spdy.encode(frame, spdy.HeaderCodec())) == [frame]


def test_header_compression_continues_across_frames_of_one_connection() -> None:
    sender, reader = spdy.HeaderCodec(), spdy.FrameReader()
    frames = [spdy.SynStream(i, {"streamtype": ["stdout"], "n": [str(i)]}) for i in (1, 3, 5)]
    wire = b"".join(spdy.encode(frame, sender) for frame in frames)
    assert reader.feed(wire) == frames
    assert spdy.FrameReader().feed(spdy.encode(frames[0], spdy.HeaderCodec())) == frames[:1]


def test_go_compressed_headers_are_read_by_python_zlib() -> None:
    # The header block of the first vector, decompressed with the dictionary: count 1, "streamtype", "error".
    block = bytes.fromhex(GO_FRAMES["syn_stream_error"])[18:]
    raw = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(block)
    assert raw == struct.pack(">I", 1) + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", 5) + b"error"


def test_unknown_control_frames_are_skipped() -> None:
    unknown = struct.pack(">HHB", 0x8003, 42, 0) + (3).to_bytes(3, "big") + b"abc"
    assert spdy.FrameReader().feed(unknown + bytes.fromhex(GO_FRAMES["ping"])) == [spdy.Ping(1)]


def control(kind: int, payload: bytes, *, version: int = 3) -> bytes:
    return struct.pack(">HHB", 0x8000 | version, kind, 0) + len(payload).to_bytes(3, "big") + payload


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (control(spdy.PING, b"\x00\x00\x00\x01", version=2), "SPDY version 2"),
        (control(spdy.PING, b"\x00\x00\x01"), "PING of 3 bytes"),
        (control(spdy.RST_STREAM, b"\x00" * 12), "RST_STREAM of 12 bytes"),
        (control(spdy.SYN_STREAM, b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00garbage"), "does not decompress"),
        (control(spdy.SYN_STREAM, b"\x00" * 10), "stream id 0"),
        (control(spdy.SYN_REPLY, b"\x00\x00"), "ends early"),
        (control(spdy.SETTINGS, struct.pack(">I", 1000)), "SETTINGS claims 1000 entries"),
        (b"\x00\x00\x00\x00\x00\x00\x00\x00", "data frame for stream 0"),
    ],
    ids=["version", "short ping", "long rst", "zlib garbage", "stream 0", "truncated", "settings count", "data 0"],
)
def test_malformed_frames_are_refused_with_a_reason(wire: bytes, message: str) -> None:
    with pytest.raises(spdy.FrameError, match=message):
        spdy.FrameReader().feed(wire)


def header_frame(block: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    compressed = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return control(spdy.SYN_REPLY, struct.pack(">I", 1) + compressed)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x00" * (spdy.MAX_HEADER_BLOCK + 100), "larger than"),
        (struct.pack(">I", 1_000_000), "claims 1000000 headers"),
        (struct.pack(">II", 1, 4) + b"Name" + struct.pack(">I", 0), "not lower case"),
        (struct.pack(">II", 1, 4) + b"name" + struct.pack(">I", 1) + b"\xff", "not UTF-8"),
        (struct.pack(">II", 1, 1) + b"a" + struct.pack(">I", 0) + b"extra", "bytes after the last header"),
        (struct.pack(">I", 2) + (struct.pack(">I", 1) + b"a" + struct.pack(">I", 0)) * 2, "given twice"),
    ],
    ids=["bomb", "count", "upper case", "not utf-8", "trailing", "duplicate"],
)
def test_malformed_header_blocks_are_refused(block: bytes, message: str) -> None:
    with pytest.raises(spdy.FrameError, match=message):
        spdy.FrameReader().feed(header_frame(block))


def test_a_frame_longer_than_the_limit_is_refused_before_it_is_buffered() -> None:
    reader = spdy.FrameReader(max_length=1024)
    with pytest.raises(spdy.FrameError, match="exceeds the limit"):
        reader.feed(b"\x00\x00\x00\x01\x00" + (4096).to_bytes(3, "big"))
