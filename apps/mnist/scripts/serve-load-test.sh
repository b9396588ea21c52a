#!/bin/sh
# Load test of `mnist serve` with wrk (Debian's `wrk` package), on loopback only, bounded
# in time: POST /predict of a 280×280 PNG drawing (what the page sends) at 1, 8 and 64
# concurrent connections, then GET /healthz at 64; prints requests/s, latency p50/p99,
# errors and the server's resident memory before and after.
#
#   cargo build --release -p mnist
#   target/release/mnist train --limit 10000 --epochs 2 --model /tmp/mnist-serve/mnist.safetensors
#   apps/mnist/scripts/serve-load-test.sh /tmp/mnist-serve/mnist.safetensors [seconds per run]
set -eu
MODEL=${1:?usage: serve-load-test.sh MODEL [SECONDS]}
SECONDS_PER_RUN=${2:-10}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN="$ROOT/target/release/mnist"
PORT=${PORT:-18931}
WORK=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A drawing like the page's: black strokes of a 7 on a white 280×280 canvas, as PNG.
python3 - "$WORK/seven.png" <<'PY'
import struct, sys, zlib
W = H = 280
img = bytearray([255]) * (W * H)
def line(x0, y0, x1, y1, r=10):
    n = int(max(abs(x1 - x0), abs(y1 - y0)))
    for i in range(n + 1):
        cx, cy = x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n
        for y in range(int(cy) - r, int(cy) + r + 1):
            for x in range(int(cx) - r, int(cx) + r + 1):
                if 0 <= x < W and 0 <= y < H and (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    img[y * W + x] = 0
line(70, 60, 210, 60)
line(210, 60, 125, 235)
raw = b"".join(b"\0" + bytes(img[y * W:(y + 1) * W]) for y in range(H))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/png"
local f = assert(io.open("$WORK/seven.png", "rb"))
wrk.body = f:read("*a")
f:close()
LUA

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$SERVER/status"; }

"$BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$PORT" &
SERVER=$!
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "PNG body: $(wc -c < "$WORK/seven.png") bytes; prediction:"
curl -s -H 'Content-Type: image/png' --data-binary "@$WORK/seven.png" "http://127.0.0.1:$PORT/predict"
echo
echo "server RSS before: $(rss)"
for C in 1 8 64; do
    T=$(( C < 2 ? C : 2 ))
    echo "== POST /predict, $C connections, $T threads, ${SECONDS_PER_RUN}s"
    wrk -t "$T" -c "$C" -d "${SECONDS_PER_RUN}s" --timeout 10s --latency -s "$WORK/post.lua" \
        "http://127.0.0.1:$PORT/predict"
    echo "server RSS: $(rss)"
done
echo "== GET /healthz, 64 connections, 2 threads, ${SECONDS_PER_RUN}s"
wrk -t 2 -c 64 -d "${SECONDS_PER_RUN}s" --timeout 10s --latency "http://127.0.0.1:$PORT/healthz"
echo "server RSS after: $(rss)"
