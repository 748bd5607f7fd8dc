# cpuport benchmark load: Debian's python3 with many stdlib C extension
# modules imported, so that it maps >= 50 shared objects (extensions and the
# libraries they pull in: libsqlite3, libffi, liblzma, libbz2, libmpdec,
# libncursesw, libreadline, libexpat, libuuid, libgdbm...).  Not _ssl or
# _hashlib (nor _asyncio, which imports ssl): OpenSSL's libcrypto dispatches on its own CPUID copy, so cpuport
# refuses to restore it onto a smaller CPU, which the downgrade row does.
# Appends "iter=N ok" to argv[1] (reopened each time) every 50 ms.
import importlib
import sys
import time

MODULES = """_bz2 _codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr
_codecs_tw _contextvars _crypt _ctypes _curses _curses_panel _dbm _decimal _json
_lsprof _lzma _multibytecodec _multiprocessing _posixshmem _queue _sqlite3 _typing
_uuid _zoneinfo audioop mmap nis readline resource termios pyexpat zlib
sqlite3 ctypes decimal lzma bz2 json uuid curses""".split()
for m in MODULES:
    try:
        importlib.import_module(m)
    except ImportError as e:
        print("not imported:", m, e, file=sys.stderr)

out = sys.argv[1]
i = 0
while True:
    i += 1
    with open(out, "a") as f:
        f.write(f"iter={i} ok\n")
    time.sleep(0.05)
