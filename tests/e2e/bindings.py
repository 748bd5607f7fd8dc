# bindings.py - compare what processes are bound to, from `cpuport scan --json` output.
#   bindings.py summary SCAN.json          key bindings, e.g. "strlen=__strlen_avx2 memcpy=..."
#   bindings.py cmp A.json B.json          "same N" or "differ K/N: sym A-variant vs B-variant; ..."
#   bindings.py capvec A.json B.json       OpenSSL's capability vector (OPENSSL_ia32cap_P, per
#                                          libcrypto) of both: "same HEX", "differ A vs B", "none"
#   bindings.py debugfiles SCAN.json...    the /usr/lib/debug/.build-id files (libc6-dbg) of
#                                          their objects that exist here: with them in a guest,
#                                          cpuport names glibc's variants there too
# Slots are matched by (object path, kind, offset) and compared by what they point to (object
# path + offset: inside a guest without /usr/lib/debug, cpuport cannot name glibc's variants);
# only slots bound in both are compared (a lazy slot one process has not used yet says
# nothing). ld.so's lazy-binding trampoline (GOT[2] of each object) counts as a slot.
import json, os, sys

KEYS = ["strlen", "memcpy", "memmove", "memset", "memcmp"]


def load(path):
    d = json.load(open(path))
    return d[0] if isinstance(d, list) else d


class Target(tuple):
    """(object path, offset) that compares by location; str() is its name if known."""

    def __new__(cls, objs, tgt):
        self = super().__new__(cls, (objs[tgt["object"]], tgt["offset"]))
        self.name = tgt.get("symbol") or "%s+%#x" % (objs[tgt["object"]].rsplit("/", 1)[-1], tgt["offset"])
        return self

    def __str__(self):
        return self.name


def table(d):
    objs = [o["path"] for o in d["objects"]]
    t = {}
    for s in d["slots"]:
        tgt = s.get("target") or {}
        if not s.get("bound") or "object" not in tgt:
            continue
        name = (s.get("symbol") or (s.get("resolver") or {}).get("symbol") or "?").split("@")[0]
        t[(objs[s["object"]], s["kind"], s["offset"])] = (name, Target(objs, tgt))
    for s in d.get("states", []):
        tgt = s.get("target") or {}
        if s.get("kind") == "LAZY_TRAMPOLINE" and "object" in tgt:
            t[(objs[s["object"]], "GOT[2]", s["offset"])] = ("GOT[2]", Target(objs, tgt))
    return d, t


def summary(path):
    d, t = table(load(path))
    exe = next((o["path"] for o in d["objects"] if o.get("exe")), "")
    out = []
    for key in KEYS:
        # the executable's own slot if it has one, else the first object that binds it
        cands = sorted(((k[0] != exe, k), v[1]) for k, v in t.items() if v[0] == key)
        if cands:
            out.append("%s=%s" % (key, cands[0][1]))
    tramp = sorted(str(v[1]) for k, v in t.items() if k[1] == "GOT[2]")
    if tramp:
        out.append("trampoline=%s" % tramp[0])
    return " ".join(out)


def cmp(a, b):
    _, ta = table(load(a))
    _, tb = table(load(b))
    common = [k for k in ta if k in tb]
    diff = [(k, ta[k], tb[k]) for k in common if ta[k][1] != tb[k][1]]
    if not common:
        return "nothing-to-compare 0"
    if not diff:
        return "same %d" % len(common)
    shown = []
    for k, va, vb in diff:
        item = "%s: %s vs %s" % (va[0], va[1], vb[1])
        if item not in shown:
            shown.append(item)
    return "differ %d/%d: %s%s" % (len(diff), len(common), "; ".join(shown[:4]), "; ..." if len(shown) > 4 else "")


def capvecs(path):
    d = load(path)
    objs = [o["path"] for o in d["objects"]]
    return {objs[s["object"]]: s.get("value") for s in d.get("states", []) if s.get("kind") == "OPENSSL_IA32CAP"}


def capvec(a, b):
    va, vb = capvecs(a), capvecs(b)
    if not va and not vb:
        return "none"
    if va != vb:
        return "differ %s vs %s" % (" ".join(sorted("%s" % v for v in va.values())) or "-",
                                    " ".join(sorted("%s" % v for v in vb.values())) or "-")
    return "same " + " ".join(sorted("%s" % v for v in va.values()))


def main():
    try:
        if sys.argv[1] == "summary":
            print(summary(sys.argv[2]))
        elif sys.argv[1] == "cmp":
            print(cmp(sys.argv[2], sys.argv[3]))
        elif sys.argv[1] == "capvec":
            print(capvec(sys.argv[2], sys.argv[3]))
        elif sys.argv[1] == "debugfiles":
            seen = set()
            for path in sys.argv[2:]:
                for o in load(path)["objects"]:
                    b = o.get("build_id") or ""
                    f = "/usr/lib/debug/.build-id/%s/%s.debug" % (b[:2], b[2:])
                    if len(b) > 2 and f not in seen and os.path.exists(f):
                        seen.add(f)
                        print(f)
        else:
            raise SystemExit("usage: bindings.py summary SCAN | cmp A B | capvec A B | debugfiles SCAN...")
    except (OSError, ValueError, KeyError, IndexError) as e:
        print("unreadable %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
