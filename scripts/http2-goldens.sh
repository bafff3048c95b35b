#!/bin/sh
# Re-derive the HTTP/2 and gRPC goldens (l7/http2/testdata/golden/) from
# tshark, for the shared corpus (pcaps/http2, pcaps/grpc) and the captures
# recorded by scripts/record-http2.sh. See scripts/http2-goldens.py.
set -e
exec python3 "$(dirname "$0")/http2-goldens.py" "$@"
