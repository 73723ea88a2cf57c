# SPDX-License-Identifier: GPL-2.0-or-later
"""Build and decode the tc netlink messages of vmpolice for the tests.

Attribute numbers are read from the UAPI header (the kernel module's
include/uapi/linux/tc_vmpolice.h), not copied here.
"""

import re
import struct

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM = {36: "RTM_NEWQDISC", 37: "RTM_DELQDISC", 38: "RTM_GETQDISC",
       40: "RTM_NEWTCLASS", 41: "RTM_DELTCLASS", 42: "RTM_GETTCLASS",
       44: "RTM_NEWTFILTER", 45: "RTM_DELTFILTER", 46: "RTM_GETTFILTER",
       48: "RTM_NEWACTION", 49: "RTM_DELACTION", 50: "RTM_GETACTION"}
RTM_NUM = {v: k for k, v in RTM.items()}
NLA_F_NESTED = 1 << 15

TCA = ["UNSPEC", "KIND", "OPTIONS", "STATS", "XSTATS", "RATE", "FCNT",
       "STATS2", "STAB", "PAD", "DUMP_INVISIBLE", "CHAIN", "HW_OFFLOAD",
       "INGRESS_BLOCK", "EGRESS_BLOCK", "DUMP_FLAGS"]
TCA_ACT = ["UNSPEC", "KIND", "OPTIONS", "INDEX", "STATS", "PAD", "COOKIE",
           "FLAGS", "HW_STATS", "USED_HW_STATS", "IN_HW_COUNT"]
TCA_STATS = ["UNSPEC", "BASIC", "RATE_EST", "QUEUE", "APP", "RATE_EST64",
             "PAD", "BASIC_HW", "PKT64"]
# filter options: which attribute holds the action list / the police
FILTER_ACT = {"u32": (7, 6), "basic": (3, 4), "matchall": (2, None),
              "flower": (3, None), "fw": (4, 2), "bpf": (1, 2),
              "cgroup": (1, 2), "flow": (9, 10), "route": (6, 5)}

# struct tc_vmpolice_stats: the counters of a policer, then those of
# holding (latency), which a module older than them does not send
POLICE_FIELDS = ["packets", "bytes", "segments", "conformed",
                 "conformed_bytes", "exceeded", "exceeded_bytes", "partial",
                 "malformed", "dodgy"]
HOLD_FIELDS = ["held", "held_bytes", "released", "overlimit", "flushed",
               "ce_marked", "backlog", "backlog_bytes", "max_hold_ns"]
STATS_FIELDS = POLICE_FIELDS + HOLD_FIELDS


def uapi_enums(path):
    """name -> value for the enums of the vmpolice UAPI header."""
    text = open(path).read()
    names = {}
    for body in re.findall(r"enum\s*\{(.*?)\};", text, re.S):
        val = 0
        for line in body.splitlines():
            m = re.match(r"\s*(\w+)\s*(?:=\s*(\w+))?\s*,", line)
            if not m:
                continue
            if m.group(2):
                val = int(m.group(2), 0)
            names[m.group(1)] = val
            val += 1
    return names


def uapi_stats_fields(path):
    """The field names of struct tc_vmpolice_stats, in order."""
    text = open(path).read()
    body = re.search(r"struct tc_vmpolice_stats\s*\{(.*?)\};", text, re.S)
    body = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    return re.findall(r"__u64\s+(\w+)\s*;", body)


class Vmp:
    """TCA_VMPOLICE_* numbers and names, from the header."""

    def __init__(self, header):
        e = uapi_enums(header)
        self.num = {k[len("TCA_VMPOLICE_"):]: v for k, v in e.items()
                    if k.startswith("TCA_VMPOLICE_")
                    and not k.startswith("TCA_VMPOLICE_QUEUE_")
                    and k != "TCA_VMPOLICE_QUEUE"
                    and not k.startswith("__")}
        self.name = {v: k for k, v in self.num.items()}
        self.qnum = {k[len("TCA_VMPOLICE_QUEUE_"):]: v for k, v in e.items()
                     if k.startswith("TCA_VMPOLICE_QUEUE_")}
        self.qnum["QUEUE"] = e["TCA_VMPOLICE_QUEUE"]


# ---------------------------------------------------------------- build

def attr(atype, payload, nested_flag=False):
    """A netlink attribute; a list payload is a nest of attributes."""
    if isinstance(payload, list):
        payload = b"".join(payload)
    if nested_flag:
        atype |= NLA_F_NESTED
    hdr = struct.pack("=HH", 4 + len(payload), atype)
    pad = b"\0" * ((4 - len(payload) % 4) % 4)
    return hdr + payload + pad


def u8(t, v):
    return attr(t, struct.pack("=B", v))


def u32(t, v):
    return attr(t, struct.pack("=I", v & 0xffffffff))


def s32(t, v):
    return attr(t, struct.pack("=i", v))


def u64(t, v):
    return attr(t, struct.pack("=Q", v))


def string(t, v):
    return attr(t, v.encode() + b"\0")


def nlmsg(mtype, payload, flags=0):
    return struct.pack("=IHHII", 16 + len(payload), mtype, flags, 0, 0) \
        + payload


def tcmsg(ifindex=0, handle=0, parent=0, info=0):
    return struct.pack("=BBHiIII", 0, 0, 0, ifindex, handle, parent, info)


def tc_gen(index, action, refcnt=1, bindcnt=0, capab=0):
    return struct.pack("=IIiii", index, capab, action, refcnt, bindcnt)


def stats_struct(values, nfields=None):
    fields = STATS_FIELDS if nfields is None else \
        (STATS_FIELDS + ["extra%d" % i for i in range(nfields)])[:nfields]
    return struct.pack("=%dQ" % len(fields),
                       *[values.get(f, 0) for f in fields])


def gnet_stats(bytes_, packets, drops=0, overlimits=0, app=None):
    basic = struct.pack("=QI", bytes_, packets) + b"\0" * 4
    queue = struct.pack("=IIIII", 0, 0, drops, 0, overlimits)
    parts = [attr(1, basic[:12]), attr(3, queue)]
    if app is not None:
        parts.append(attr(4, app))
    return attr(7, parts)       # TCA_STATS2


# --------------------------------------------------------------- decode

def attrs(data):
    off = 0
    while off + 4 <= len(data):
        alen, atype = struct.unpack_from("=HH", data, off)
        if alen < 4:
            break
        yield atype & ~NLA_F_NESTED, data[off + 4:off + alen]
        off += (alen + 3) & ~3


def messages(data):
    off = 0
    while off + 16 <= len(data):
        mlen, mtype, flags, _, _ = struct.unpack_from("=IHHII", data, off)
        if mlen < 16:
            break
        yield mtype, flags, data[off + 16:off + mlen]
        off += (mlen + 3) & ~3


def verdict(v):
    names = {-1: "continue", 0: "ok", 1: "reclassify", 2: "drop",
             3: "pipe"}
    if v >= 0 and v & 0x20000000:
        return "goto chain %d" % (v & 0x0fffffff)
    return names.get(v, str(v))


def decode_vmpolice(vmp, data, path, out):
    for t, p in attrs(data):
        name = vmp.name.get(t, "attr%d" % t)
        key = "%s.%s" % (path, name)
        if name == "PARMS":
            index, capab, action, refcnt, bindcnt = \
                struct.unpack_from("=IIiii", p)
            out.append("%s=index %d action %s" % (key, index,
                                                  verdict(action)))
        elif name == "CONFORM":
            out.append("%s=%s" % (key, verdict(struct.unpack("=i", p)[0])))
        elif name == "OVERHEAD":
            out.append("%s=%d" % (key, struct.unpack("=i", p)[0]))
        elif len(p) == 8:
            out.append("%s=%d" % (key, struct.unpack("=Q", p)[0]))
        elif len(p) == 4:
            out.append("%s=%d" % (key, struct.unpack("=I", p)[0]))
        elif len(p) == 1:
            out.append("%s=%d" % (key, p[0]))
        else:
            out.append("%s=%s" % (key, p.hex()))


def decode_actions(vmp, data, path, out):
    for prio, p in attrs(data):
        kind = None
        for t, q in attrs(p):
            name = TCA_ACT[t] if t < len(TCA_ACT) else "attr%d" % t
            key = "%s.%d.%s" % (path, prio, name)
            if name == "KIND":
                kind = q.rstrip(b"\0").decode()
                out.append("%s=%s" % (key, kind))
            elif name == "OPTIONS" and kind == "vmpolice":
                if not q:
                    out.append(key + "=")
                decode_vmpolice(vmp, q, key, out)
            else:
                out.append("%s=%s" % (key, q.hex()))


def decode(vmp, data):
    """The requests tc sent, as sorted "path=value" lines per message."""
    result = []
    for mtype, flags, p in messages(data):
        out = []
        name = RTM.get(mtype, str(mtype))
        if mtype in (48, 49, 50):
            body = p[4:]
            for t, q in attrs(body):
                if t == 1:
                    decode_actions(vmp, q, "actions", out)
                else:
                    out.append("root.attr%d=%s" % (t, q.hex()))
        else:
            body = p[20:]
            kind = None
            for t, q in attrs(body):
                tname = TCA[t] if t < len(TCA) else "attr%d" % t
                if tname == "KIND":
                    kind = q.rstrip(b"\0").decode()
                    out.append("kind=" + kind)
                elif tname == "OPTIONS" and kind == "vmpolice":
                    out.append("options")
                    decode_vmpolice(vmp, q, "options", out)
                elif tname == "OPTIONS" and kind in FILTER_ACT:
                    act, pol = FILTER_ACT[kind]
                    for ft, fq in attrs(q):
                        if ft == act:
                            decode_actions(vmp, fq, "options.act", out)
                        elif ft == pol:
                            out.append("options.police=" + fq.hex())
                        else:
                            out.append("options.attr%d=%s" % (ft, fq.hex()))
                else:
                    out.append("%s=%s" % (tname, q.hex()))
        result.append((name, out))
    return result
