#!/usr/bin/env bash
# run.sh — the report browser test (ctest: test_report_browser). Builds a report with the given
# generator into WORK, installs playwright-core from the pinned lock file (npm ci; no browser
# download: Debian's chromium is used), and runs test.js. The screenshot stays in WORK.
# Usage: run.sh REPORT_GENERATOR WORK_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gen=$1
work=$2
mkdir -p "$work"
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium missing (apt-get install chromium)"; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm missing (apt-get install npm)"; exit 1; }
"$gen" "$work/report"
# node_modules lives in the build tree: the source tree stays clean.
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
NODE_PATH="$work/node_modules" node "$here/test.js" "$work/report" "$work/report.png"
