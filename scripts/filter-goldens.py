#!/usr/bin/env python3
"""Writes, for every corpus file and filter expression, the numbers of the
packets tcpdump accepts (the oracle for capture/filter's tests).

tcpdump cannot print the position of a packet in its input, so each file is
written out twice by tcpdump -w: once whole and once filtered; the accepted
records are then found in the whole list by their bytes, in order (equal
records always get the same verdict, so this alignment is exact).

Output: a header line "# file" followed by the expressions, tab-separated,
then per file a line of its path and, per expression, the accepted packet
numbers as ranges ("1-3,7"), "-" for none, "#COUNT:HASH" for a list longer
than 24 characters (HASH: the first 12 hex digits of the SHA-256 of the
list), or "ERR" when tcpdump rejects the expression for the file's link
type (including tcpdump's "expression rejects all packets").

Usage: filter-goldens.py CORPUS EXPRS [EXTRA.pcap ...] > tcpdump.golden
(corpus files are named by their MANIFEST.tsv path, extra files as given)
"""
import hashlib
import struct
import subprocess
import sys


def records(pcap):
    """Yields (caplen, origlen, data) of a classic pcap written by tcpdump."""
    if not pcap:
        return
    magic = pcap[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a pcap: %r" % magic)
    off = 24
    while off + 16 <= len(pcap):
        _, _, caplen, orig = struct.unpack(e + "IIII", pcap[off:off + 16])
        yield caplen, orig, pcap[off + 16:off + 16 + caplen]
        off += 16 + caplen


def tcpdump(path, expr=None):
    cmd = ["tcpdump", "-n", "-r", path, "-w", "-"]
    if expr is not None:
        cmd.append(expr)
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        msg = p.stderr.decode(errors="replace").strip().splitlines()
        msg = [m for m in msg if not m.startswith("reading from")]
        return None, (msg[-1] if msg else "exit %d" % p.returncode)
    return list(records(p.stdout)), None


def ranges(nums):
    """1,2,3,5 -> 1-3,5"""
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else "%d-%d" % (nums[i], nums[j]))
        i = j + 1
    s = ",".join(out) if out else "-"
    if len(s) > 24:
        s = "#%d:%s" % (len(nums), hashlib.sha256(s.encode()).hexdigest()[:12])
    return s


def main():
    corpus, exprs_path = sys.argv[1], sys.argv[2]
    exprs = [l.rstrip("\n") for l in open(exprs_path)]
    exprs = [e for e in exprs if e.strip() and not e.startswith("#")]
    files = [(corpus + "/" + l.split("\t")[0], l.split("\t")[0])
             for l in open(corpus + "/MANIFEST.tsv").read().splitlines()[1:]]
    files += [(f, f) for f in sys.argv[3:]]
    print("\t".join(["# file"] + exprs))
    for path, f in files:
        whole, err = tcpdump(path)
        if err:
            sys.exit("%s: %s" % (f, err))
        row = [f]
        for expr in exprs:
            acc, err = tcpdump(path, expr)
            if err:
                row.append("ERR")
                continue
            nums, i = [], 0
            for rec in acc:
                while whole[i] != rec:
                    i += 1
                nums.append(i + 1)
                i += 1
            row.append(ranges(nums))
        print("\t".join(row))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
