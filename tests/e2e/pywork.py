# cpuport e2e workload for Debian's /usr/bin/python3 (3.11): real interpreter work through
# glibc's CPU-dispatched string functions (json encode/decode, str/bytes search and replace,
# re, zlib, the built-in _sha256), one checksummed progress line per iteration, appended to
# OUT (reopened each time, so no file is open at checkpoint time):
#   iter=N sha=.. crc=.. re=.. acc=.. ok|BAD
# `acc` chains every iteration's digest, so a line is only right if the process's memory
# survived the checkpoint too. `python3 pywork.py --verify OUT [FROM_LINE]` recomputes every
# line from iteration 0 and reports the lines from FROM_LINE (1-based) on.
# --hashlib uses hashlib.sha256 (OpenSSL's libcrypto, which picks its own SHA code from CPUID
# at load time and keeps it in OPENSSL_ia32cap_P) instead of the built-in _sha256.
# --tls DIR (implies --hashlib) also does, every iteration, a new TLS handshake over a new
# socketpair (one thread, non-blocking) with the server and client ssl.SSLContext made once
# before the dump (DIR/cert.pem, DIR/key.pem: self-signed, CN=localhost), sends a message
# through it and appends `tls=` + the digest of what came back (the verifier recomputes the
# digest of the message, without TLS): libssl/libcrypto's AES-GCM/ChaCha20, ECDHE and RSA code.
# `--modules [--hashlib] [--tls DIR]` lists the stdlib files the workload loads (for a guest's
# initramfs).
import json, os, re, sys, time, zlib

WORDS = ["alpha", "b\u03b2ta", "gamma", "\u03b4elta", "epsilon", "zeta", "eta", "\u03b8eta"]
PAT = re.compile(r"item-\d+|ipsum \d+")


def tls_msg(i):
    return ("tls message %d " % i).encode() * (1 + i % 50)


class Tls:
    """Server and client contexts made once; one handshake and echo per call."""

    def __init__(self, d):
        import socket, ssl
        self.socket, self.ssl = socket, ssl
        self.srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.srv.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
        self.cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.cli.load_verify_locations(os.path.join(d, "cert.pem"))

    def _pump(self, fn):
        """Run fn on both ends until neither wants to read (one thread, non-blocking)."""
        done = [False, False]
        for _ in range(10000):
            for k in (0, 1):
                if not done[k]:
                    try:
                        fn(k)
                        done[k] = True
                    except (self.ssl.SSLWantReadError, self.ssl.SSLWantWriteError, BlockingIOError):
                        pass
            if all(done):
                return
        raise RuntimeError("TLS exchange did not finish")

    def echo(self, msg):
        a, b = self.socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        ends = [self.srv.wrap_socket(a, server_side=True, do_handshake_on_connect=False),
                self.cli.wrap_socket(b, server_hostname="localhost", do_handshake_on_connect=False)]
        try:
            self._pump(lambda k: ends[k].do_handshake())
            sent, got = [0], [b""]

            def xfer(k):
                if k == 1:
                    while sent[0] < len(msg):
                        sent[0] += ends[1].send(msg[sent[0]:])
                else:
                    while len(got[0]) < len(msg):
                        got[0] += ends[0].recv(65536)
            self._pump(xfer)
            return got[0]
        finally:
            for e in ends:
                e.close()


def step(i, acc, sha256, tls=None):
    obj = {
        "i": i,
        "name": "item-%06d" % i,
        "tags": [w * (1 + (i + k) % 5) for k, w in enumerate(WORDS)],
        "vals": [(i * 7919 + k * 104729) % 1000003 for k in range(48)],
        "text": ("lorem ipsum %d " % i) * (1 + i % 40),
    }
    s = json.dumps(obj, sort_keys=True, ensure_ascii=False)
    b = s.encode("utf-8")
    good = json.loads(s) == obj
    good = good and s.count("a") == sum(1 for ch in s if ch == "a")
    good = good and s.replace("ipsum", "IPSUM").lower() == s.lower()
    good = good and zlib.decompress(zlib.compress(b, 6)) == b
    good = good and b.find(b"lorem") == s.encode("utf-8").index(b"lorem")
    d = sha256(b).hexdigest()
    c = zlib.crc32(b)
    m = len(PAT.findall(s))
    acc = sha256((acc + d).encode()).hexdigest()
    line = "iter=%d sha=%s crc=%08x re=%d acc=%s %s\n" % (i, d[:16], c, m, acc[:16], "ok" if good else "BAD")
    if tls is not None:
        # the workload echoes through TLS; the verifier (tls=False) recomputes from the message
        back = tls_msg(i) if tls is False else tls.echo(tls_msg(i))
        line = line[:-1] + " tls=%s\n" % sha256(back).hexdigest()[:16]
    return line, acc


def hasher(use_hashlib):
    if use_hashlib:
        import hashlib
        return hashlib.sha256
    import _sha256
    return _sha256.sha256


def verify(path, first, sha256, tls):
    lines = open(path).read().splitlines(True)
    acc, bad, checked = "", 0, 0
    for n, got in enumerate(lines):
        want, acc = step(n, acc, sha256, False if tls else None)
        if n + 1 >= first:
            checked += 1
            if got != want:
                bad += 1
                if bad <= 3:
                    print("line %d: got %r, want %r" % (n + 1, got, want))
    print("PYVERIFY lines=%d checked=%d bad=%d" % (len(lines), checked, bad))
    return 1 if bad else 0


def main():
    args = sys.argv[1:]
    tls_dir = None
    if "--tls" in args:
        k = args.index("--tls")
        tls_dir = args[k + 1]
        del args[k:k + 2]
    use_hashlib = "--hashlib" in args or tls_dir is not None
    args = [a for a in args if a != "--hashlib"]
    sha256 = hasher(use_hashlib)
    if args and args[0] == "--modules":
        # the files this interpreter loaded for the workload: what a guest needs of the stdlib
        import importlib.util
        if tls_dir is not None:
            import socket, ssl  # noqa: F401
            "localhost".encode("idna")  # the codec a client's server_hostname loads
        for m in list(sys.modules.values()):
            f = getattr(m, "__file__", None)
            if not f:
                continue
            print(f)
            if f.endswith(".py"):
                c = importlib.util.cache_from_source(f)
                if os.path.exists(c):
                    print(c)
        return 0
    if args and args[0] == "--verify":
        return verify(args[1], int(args[2]) if len(args) > 2 else 1, sha256, tls_dir is not None)
    tls = Tls(tls_dir) if tls_dir is not None else None
    out, acc, i = args[0], "", 0
    while True:
        line, acc = step(i, acc, sha256, tls)
        with open(out, "a") as f:
            f.write(line)
        i += 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
