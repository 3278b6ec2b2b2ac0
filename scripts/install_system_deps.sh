#!/usr/bin/env bash
# Debian packages the browser tests and Chinese chart labels need: Chromium (driven by
# Playwright through its executable path; no browser download) and a CJK font.
# Idempotent; prints why and exits 0 when it cannot install (the browser tests then skip
# with that reason, and the CJK charts fall back to English labels, saying so).
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: cannot install ${need[*]} (needs root and apt-get); browser tests will be skipped" >&2
    exit 0
fi
echo "install_system_deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    echo "install_system_deps: apt-get failed for ${need[*]}; browser tests will be skipped" >&2
fi
exit 0
