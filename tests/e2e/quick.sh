#!/bin/bash
# CI's part of the cross-CPU matrix (make test): tests/e2e/run.sh --quick.
exec "$(dirname "$0")/run.sh" --quick "$@"
