#!/usr/bin/env bash
# The experiment page (DIR/plots/index.html, `make plots`) in a real browser: Debian's headless
# chromium loads it and must show every <img> (naturalWidth > 0) and resolve every link (the
# run logs); then a screenshot. Run by hand, not in CI (it installs chromium when missing: root).
#
#   tests/html/check_page.sh [DIR]      DIR: an experiment to copy (its *.h5 and .work/*/*.log);
#                                       default: a toy sweep built here (4 runs + 1 diverged, ~1 min)
#
# Environment: FCNLAB (default build/src/cli/fcnlab), SCREENSHOT (where to write the full-size
# screenshot; default in the temp dir), DOC_SCREENSHOT (also write a downscaled copy there, e.g.
# docs/experiment-page.png), BREAK=name.png (delete that file of plots/ after `make plots`, a glob
# such as 'logs/fcn32s-*.log' too: the check must then fail), KEEP_WORK=1 (keep the temp dir).
# Exit 0 when every image and file link loads, 1 otherwise.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FCNLAB=${FCNLAB:-$SRC/build/src/cli/fcnlab}
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fcnlab-page.XXXXXX")
cleanup() { if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
fail() {
  echo "FAIL [check_page]: $*" >&2
  KEEP_WORK=1
  exit 1
}
note() { echo "[check_page] $*"; }

[ -x "$FCNLAB" ] || fail "no fcnlab executable at $FCNLAB (set FCNLAB)"
if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "chromium is missing; as root: apt-get install -y chromium"
  note "installing Debian's chromium"
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >"$WORK/apt.log" 2>&1 ||
    fail "apt-get install chromium failed: $(tail -5 "$WORK/apt.log")"
fi
CHROMIUM=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1)

# --- the experiment ---
RES=$WORK/res/page
if [ $# -ge 1 ]; then
  mkdir -p "$RES"
  cp "$1"/*.h5 "$RES"/
  for log in "$1"/.work/*/stdout.log "$1"/.work/*/train.log; do
    [ -f "$log" ] || continue
    run=$(basename "$(dirname "$log")")
    mkdir -p "$RES/.work/$run" && cp "$log" "$RES/.work/$run/"
  done
  PLOTS_ARGS=${PLOTS_ARGS:-}
else
  note "toy sweep (4 runs) and one diverged run in $RES"
  "$FCNLAB" make-toy --out "$WORK/toy" --train 16 --val 8 >/dev/null
  TOY=(--config "$SRC/configs/toy.toml" "data.root=$WORK/toy" run.threads=1 data.workers=0 optim.batch_size=4
       optim.warmup=2 eval.examples=2 "eval.trimap_widths=[1,2,4]" "run.results_dir=$WORK/res")
  "$FCNLAB" sweep "${TOY[@]}" --name page model.skip=32,8 run.seed=0,1 optim.iterations=40 eval.every=20 \
    --jobs 1 >"$WORK/sweep.log" 2>&1 || fail "the sweep failed: $(tail -20 "$WORK/sweep.log")"
  "$FCNLAB" sweep "${TOY[@]}" --name page model.skip=8 optim.lr=1e30 optim.warmup=0 optim.iterations=8 \
    eval.every=0 --jobs 1 >>"$WORK/sweep.log" 2>&1 || fail "the diverging sweep failed: $(tail -20 "$WORK/sweep.log")"
  PLOTS_ARGS=${PLOTS_ARGS:---vs model.skip=32 --margin 0.05 --report-metrics mean_iou,bf_score --metric bf_score}
fi

# --- the page, and its non-browser checks ---
make -s -C "$SRC" plots DIR="$RES" PLOTS_ARGS="$PLOTS_ARGS --fcnlab $FCNLAB" >"$WORK/plots.log" 2>&1 ||
  fail "make plots failed: $(cat "$WORK/plots.log")"
grep -q "warning: index.html" "$WORK/plots.log" && fail "make plots: $(cat "$WORK/plots.log")"
PAGE=$RES/plots/index.html
[ -f "$PAGE" ] || fail "make plots wrote no $PAGE"
# shellcheck disable=SC2086
"$PY" "$SRC/tests/html/test_index.py" "$RES" $PLOTS_ARGS --fcnlab "$FCNLAB" >"$WORK/test_index.log" 2>&1 ||
  fail "tests/html/test_index.py: $(cat "$WORK/test_index.log")"
note "$(tail -1 "$WORK/test_index.log")"
if [ -n "${BREAK:-}" ]; then
  note "deleting plots/$BREAK on purpose: the check must fail"
  # shellcheck disable=SC2086  # a glob, e.g. BREAK='logs/fcn32s-*.log'
  rm -v "$RES"/plots/$BREAK
fi

# --- the browser: a copy of the page with a <base> at the plots folder and a checker script ---
"$PY" - "$PAGE" "$WORK/check.html" <<'EOF'
import pathlib, sys
page, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
checker = """<script>
window.addEventListener("load", function () {
  var out = [];
  for (var i = 0; i < document.images.length; i++) {
    var im = document.images[i];
    out.push((im.complete && im.naturalWidth > 0 ? "IMG-OK " : "IMG-BROKEN ") + im.getAttribute("src") +
             " " + im.naturalWidth + "x" + im.naturalHeight);
  }
  var links = document.querySelectorAll("a[href]:not([href^='#'])");
  for (var j = 0; j < links.length; j++) {
    var n = -1;
    try { var x = new XMLHttpRequest(); x.open("GET", links[j].href, false); x.send(); n = x.responseText.length; }
    catch (e) { n = -1; }
    out.push((n >= 0 ? "LINK-OK " : "LINK-BROKEN ") + links[j].getAttribute("href") + " " + n);
  }
  var pre = document.createElement("pre");
  pre.id = "check-result";
  pre.textContent = "CHECK-BEGIN\\n" + out.join("\\n") + "\\nCHECK-END";
  document.body.appendChild(pre);
});
</script>"""
text = page.read_text(encoding="utf-8")
base = f'<base href="{page.parent.resolve().as_uri()}/">'
out.write_text(text.replace("<head>", "<head>\n" + base, 1).replace("</body>", checker + "\n</body>", 1),
               encoding="utf-8")
EOF
timeout 120 "${CHROMIUM[@]}" --allow-file-access-from-files --virtual-time-budget=15000 --dump-dom \
  "file://$WORK/check.html" >"$WORK/dom.html" 2>"$WORK/chromium.log" ||
  fail "chromium --dump-dom failed: $(tail -5 "$WORK/chromium.log")"
sed -n '/CHECK-BEGIN/,/CHECK-END/p' "$WORK/dom.html" | sed 's/.*CHECK-BEGIN/CHECK-BEGIN/' >"$WORK/result.txt"
grep -q CHECK-END "$WORK/result.txt" || fail "the checker script did not run in chromium (see $WORK/dom.html)"
n_img=$(grep -o '<img ' "$PAGE" | wc -l)
n_link=$(grep -o '<a href="[^#]' "$PAGE" | wc -l)  # files; not the page's own #anchors
ok_img=$(grep -c '^IMG-OK ' "$WORK/result.txt" || true)
ok_link=$(grep -c '^LINK-OK ' "$WORK/result.txt" || true)
note "chromium: $ok_img of $n_img images loaded, $ok_link of $n_link links resolve"
if grep -q 'BROKEN' "$WORK/result.txt" || [ "$ok_img" != "$n_img" ] || [ "$ok_link" != "$n_link" ] ||
  [ "$n_img" = 0 ]; then
  fail "broken in chromium:
$(grep BROKEN "$WORK/result.txt" || echo "(counts differ)")"
fi

# --- the screenshot ---
SHOT=${SCREENSHOT:-$WORK/page.png}
timeout 120 "${CHROMIUM[@]}" --window-size=1100,1400 --screenshot="$SHOT" "file://$PAGE" >>"$WORK/chromium.log" 2>&1 ||
  fail "chromium --screenshot failed"
[ -s "$SHOT" ] || fail "no screenshot written"
note "screenshot: $SHOT ($(stat -c %s "$SHOT") bytes)"
if [ -n "${DOC_SCREENSHOT:-}" ]; then
  "$PY" - "$SHOT" "$DOC_SCREENSHOT" <<'EOF'
import sys
from PIL import Image  # python3-pil, which Debian's python3-matplotlib depends on
img = Image.open(sys.argv[1]).convert("RGB")
img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.LANCZOS)
img.quantize(colors=96, method=Image.MEDIANCUT, dither=Image.NONE).save(sys.argv[2], optimize=True)
EOF
  note "downscaled copy: $DOC_SCREENSHOT ($(stat -c %s "$DOC_SCREENSHOT") bytes)"
fi
note "PASS: every image and link of $PAGE loads in chromium"
