#!/bin/bash
# Runs one test against the sanitized build (make SANITIZE=1): build-san's
# plugin, tool and helper; ASan/UBSan reports fail the test.
top=$(cd "$(dirname "$0")/.." && pwd)
export CPUPORT_OUT=$top/build-san
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
exec "$@"
