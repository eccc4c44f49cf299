#!/usr/bin/python3
"""Baseline for bench_capture.sh: a plain pyserial logger. Like the
simplest host it sends IDENTIFY and START (docs/PROTOCOL.md), then copies
whatever arrives into a file for a while; the capture is decoded later.

usage: pyserial_logger.py PORT OUTPUT SECONDS
"""
import struct
import sys
import time

import serial  # python3-serial (Debian's, hence /usr/bin/python3)

IDENTIFY, START = 0x81, 0x82


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def cobs(data):
    out, block = bytearray(), bytearray()
    for byte in data:
        if byte == 0:
            out += bytes([len(block) + 1]) + block
            block.clear()
            continue
        block.append(byte)
        if len(block) == 254:
            out += b"\xff" + block
            block.clear()
    return bytes(out + bytes([len(block) + 1]) + block)


def command(kind, seq):
    body = struct.pack("<BHI", kind, seq, 0)
    return cobs(body + struct.pack("<I", crc32c(body))) + b"\x00"


port, output, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with serial.Serial(port, 115200, timeout=0.05) as link, open(output, "wb") as out:
    link.write(command(IDENTIFY, 0) + command(START, 1))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        data = link.read(65536)
        if data:
            out.write(data)
