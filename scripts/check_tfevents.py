#!/usr/bin/python3
"""Reads a TensorBoard event file independently of the C++ writer and prints what it holds.

Framing (TFRecord): uint64 length (little endian), masked CRC-32C of those 8 bytes, the data,
masked CRC-32C of the data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2^32). The
CRC-32C here is computed bit by bit from the Castagnoli polynomial, and the Event / Summary /
hparams messages are decoded from the protobuf wire format with TensorBoard's field numbers
(event.proto, summary.proto, plugins/hparams/plugin_data.proto) written out below, so neither
the C++ CRC table nor our .proto files are reused. google.protobuf.Value (a hyperparameter's
value) is decoded by python3-protobuf's own struct_pb2.

Usage: scripts/check_tfevents.py FILE      prints JSON; exits 1 with "error: ..." on a bad file
"""
import json
import struct
import sys

from google.protobuf import struct_pb2


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(blob):
    """Yields (offset, data) of every record; raises ValueError on a bad CRC or a torn tail."""
    pos = 0
    while pos < len(blob):
        if len(blob) - pos < 12:
            raise ValueError("torn record header at byte %d" % pos)
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if masked(crc32c(header)) != length_crc:
            raise ValueError("length CRC mismatch at byte %d" % pos)
        end = pos + 12 + length + 4
        if end > len(blob):
            raise ValueError("torn record data at byte %d" % pos)
        data = blob[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[pos + 12 + length:end])
        if masked(crc32c(data)) != data_crc:
            raise ValueError("data CRC mismatch in the record at byte %d" % pos)
        yield pos, data
        pos = end


def varint(buf, pos):
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf):
    """Protobuf wire format: yields (field number, wire type, value) of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, wire, value


def as_int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_hparams_content(content, out):
    # HParamsPluginData: version 1, session_start_info 3, session_end_info 4.
    for number, _, value in fields(content):
        if number == 1:
            out["hparams_version"] = value
        elif number == 3:  # SessionStartInfo: hparams 1 (map), model_uri 2, start_time_secs 5
            hp = {}
            for n, _, v in fields(value):
                if n == 1:
                    entry = dict((k, x) for k, _, x in fields(v))
                    pv = struct_pb2.Value.FromString(entry.get(2, b""))
                    kind = pv.WhichOneof("kind")
                    hp[entry[1].decode()] = getattr(pv, kind) if kind else None
                elif n == 2:
                    out["model_uri"] = v.decode()
                elif n == 5:
                    out["start_time_secs"] = struct.unpack("<d", v)[0]
            out["hparams"] = hp
        elif number == 4:  # SessionEndInfo: status 1, end_time_secs 2
            end = {"status": 0}
            for n, _, v in fields(value):
                if n == 1:
                    end["status"] = v
                elif n == 2:
                    end["end_time_secs"] = struct.unpack("<d", v)[0]
            out["session_end"] = end


def decode_event(data, out):
    event = {"wall_time": 0.0, "step": 0, "values": []}
    for number, _, value in fields(data):
        if number == 1:
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif number == 2:
            event["step"] = as_int64(value)
        elif number == 3:
            event["file_version"] = value.decode()
        elif number == 5:  # Summary: repeated Value 1
            for n, _, v in fields(value):
                if n != 1:
                    continue
                item = {}
                for vn, _, vv in fields(v):
                    if vn == 1:
                        item["tag"] = vv.decode()
                    elif vn == 2:
                        item["simple_value"] = struct.unpack("<f", vv)[0]
                    elif vn == 9:  # SummaryMetadata: plugin_data 1 {plugin_name 1, content 2}
                        for mn, _, mv in fields(vv):
                            if mn == 1:
                                pd = dict((k, x) for k, _, x in fields(mv))
                                item["plugin"] = pd.get(1, b"").decode()
                                if item["plugin"] == "hparams":
                                    decode_hparams_content(pd.get(2, b""), out)
                event["values"].append(item)
    return event


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_tfevents.py FILE")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    out = {"events": []}
    try:
        for _, data in records(blob):
            out["events"].append(decode_event(data, out))
    except (ValueError, IndexError, struct.error) as e:
        print("error: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(1)
    out["records"] = len(out["events"])
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
