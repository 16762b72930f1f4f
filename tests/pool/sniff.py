#!/usr/bin/env python3
"""Counts the frames seen on a network interface that carry a byte string
in clear (a test's check that a stream is encrypted). Runs until STOPFILE
exists, then writes "<frames> <hits>" to OUTFILE.
usage: sniff.py IFACE PATTERN OUTFILE STOPFILE"""
import os
import socket
import sys

iface, pattern, out, stop = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((iface, 0))
s.settimeout(0.2)
frames = hits = 0
open(out + ".ready", "w").close()
while not os.path.exists(stop):
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    frames += 1
    if pattern in data:
        hits += 1
with open(out, "w") as f:
    f.write("%d %d\n" % (frames, hits))
