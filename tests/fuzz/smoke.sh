#!/bin/bash
# CI's short fuzz run: each libFuzzer target for 15 s on the seed corpus.
exec "$(dirname "$0")/run.sh" smoke "${FUZZ_SMOKE_SECS:-15}"
