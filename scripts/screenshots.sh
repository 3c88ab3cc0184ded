#!/usr/bin/env bash
# Refresh the README's pictures (docs/img/) from a fresh `nianbao demo` run, with Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/nianbao demo --no-serve --quiet >/dev/null
PORT=$($BIN/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
# the matrix counts deadlines against the demo's clock (crawler/demo/showcase.py DEMO_TODAY)
$BIN/nianbao serve --db data/demo/nianbao.db --port "$PORT" --no-open --today 2025-06-01 2>/dev/null &
SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/-/versions.json" >/dev/null && break; sleep 0.2; done
RID=$($BIN/python - "$PORT" <<'PY'
import json, sys, urllib.parse, urllib.request
q = urllib.parse.urlencode({"sql": "select id from reports where agency = '市中区卫生健康局' and year = 2024",
                            "_shape": "array"})
print(json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/nianbao.json?{q}"))[0]["id"])
PY
)
shot() {  # url file width height
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --no-first-run --disable-sync --user-data-dir="$(mktemp -d)" --hide-scrollbars \
    --window-size="$3,$4" --screenshot="$2" "$1" 2>/dev/null
}
mkdir -p docs/img
shot "http://127.0.0.1:$PORT/-/nianbao/report/$RID" docs/img/report-page.png 1400 2000
shot "file://$PWD/data/demo/mail/alert-01.html" docs/img/alert-email.png 1000 1300
shot "http://127.0.0.1:$PORT/" docs/img/matrix.png 1366 1000
# the 通报 as the officer receives it: the DOCX download, rendered by LibreOffice to PDF, page 1 to PNG
TMP=$(mktemp -d)
curl -sf "http://127.0.0.1:$PORT/-/nianbao/matrix.docx" -o "$TMP/notice.docx"
soffice --headless "-env:UserInstallation=file://$TMP/lo" --convert-to pdf --outdir "$TMP" "$TMP/notice.docx" >/dev/null 2>&1
pdftoppm -png -r 80 -f 1 -l 1 -singlefile "$TMP/notice.pdf" docs/img/notice
echo "wrote docs/img/report-page.png docs/img/alert-email.png docs/img/matrix.png docs/img/notice.png"
