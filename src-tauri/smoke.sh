#!/usr/bin/env bash
# Smoke test of the built desktop app on a virtual X display.
#
#   src-tauri/smoke.sh <path/to/jingwu> <screenshot.png>
#
# Starts Xvfb on a free display, launches the app with a throw-away data
# directory (JINGWU_DATA_DIR) and XDG dirs, waits (bounded, default 30 s,
# override with SMOKE_TIMEOUT=seconds) until a window titled 警务协同 exists,
# waits (same deadline) for the page to paint, and saves a screenshot.
# Exit 0 when the window appeared and the data directory was created;
# non-zero with a message otherwise. Always stops what it started.
#
# SMOKE_USER_DIR=DIR runs the app as a user whose XDG data, config and
# cache directories are under DIR (kept afterwards), with no
# JINGWU_DATA_DIR: the app uses its default data directory there
# (DIR/data/cn.gov.leishan.jingwu), as an installed app would.
#
# Needs: Xvfb (xvfb), xdotool (xdotool), import/identify (imagemagick).
set -euo pipefail

TITLE='警务协同'
TIMEOUT="${SMOKE_TIMEOUT:-30}"

die() { echo "smoke: FAIL: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || { echo "usage: $0 <app-binary> <screenshot.png>" >&2; exit 2; }
app="$1"
shot="$2"
[[ -x "$app" ]] || die "app binary '$app' is missing or not executable"
for tool in Xvfb xdotool import identify; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt packages: xvfb xdotool imagemagick)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/jingwu-smoke.XXXXXX")"
xvfb_pid=""
app_pid=""
keep_work=0

stop() { # stop <pid> <process-group?>: TERM, wait up to 5 s, then KILL
    local pid="$1" group="$2" target="$1" i
    [[ -n "$pid" ]] || return 0
    [[ "$group" == group ]] && target="-$pid"
    kill -TERM -- "$target" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 -- "$target" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    # The app runs in its own process group: this also ends its WebKit helpers.
    stop "$app_pid" group
    stop "$xvfb_pid" single
    if [[ $status -ne 0 && -s "$work/app.log" ]]; then
        echo "--- app log (last 40 lines) ---" >&2
        tail -n 40 "$work/app.log" >&2
    fi
    if [[ $status -ne 0 && -s "$work/xvfb.log" ]]; then
        echo "--- Xvfb log (last 10 lines) ---" >&2
        tail -n 10 "$work/xvfb.log" >&2
    fi
    [[ $keep_work -eq 1 ]] || rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

deadline=$((SECONDS + TIMEOUT))

# Xvfb picks a free display itself and writes its number to the given fd.
# Create the file first: the background job opens it asynchronously.
: >"$work/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" \
    >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
display=""
while [[ -z "$display" ]]; do
    kill -0 "$xvfb_pid" 2>/dev/null || die "Xvfb exited during start-up"
    ((SECONDS < deadline)) || die "Xvfb did not report a display within ${TIMEOUT}s"
    # Read the number only once Xvfb has written the whole line.
    if [[ "$(wc -l <"$work/display")" -ge 1 ]]; then
        display="$(tr -dc '0-9' <"$work/display")"
    fi
    [[ -n "$display" ]] || sleep 0.1
done
export DISPLAY=":$display"
echo "smoke: Xvfb on $DISPLAY"

if [[ -n "${SMOKE_USER_DIR:-}" ]]; then
    xdg="$SMOKE_USER_DIR"
    data_dir="$xdg/data/cn.gov.leishan.jingwu"
    unset JINGWU_DATA_DIR
else
    xdg="$work/xdg"
    data_dir="$work/data/station"
    export JINGWU_DATA_DIR="$data_dir"
fi
mkdir -p "$xdg/data" "$xdg/config" "$xdg/cache"
# setsid: the app leads a new process group so cleanup can stop all of it.
XDG_DATA_HOME="$xdg/data" XDG_CONFIG_HOME="$xdg/config" \
    XDG_CACHE_HOME="$xdg/cache" \
    setsid "$app" >"$work/app.log" 2>&1 &
app_pid=$!
echo "smoke: started $app (pid $app_pid), data dir $data_dir"

window=""
while [[ -z "$window" ]]; do
    kill -0 "$app_pid" 2>/dev/null || die "the app exited before its window appeared"
    ((SECONDS < deadline)) || die "no window titled '$TITLE' within ${TIMEOUT}s"
    window="$(xdotool search --name "^${TITLE}\$" 2>/dev/null | head -n 1 || true)"
    [[ -n "$window" ]] || sleep 0.25
done
echo "smoke: window $window '$(xdotool getwindowname "$window")' appeared after ${SECONDS}s"

[[ -d "$data_dir" ]] || die "the app did not create its data directory $data_dir"

# The window maps before the web view paints: wait until the screen shows
# more than a couple of colours (a blank page has one or two).
mkdir -p "$(dirname "$shot")"
colours=0
while :; do
    import -window root "$shot"
    colours="$(identify -format '%k' "$shot")"
    ((colours > 16)) && break
    if ((SECONDS >= deadline)); then
        echo "smoke: warning: the page still looks blank ($colours colours)" >&2
        break
    fi
    sleep 0.25
done
kill -0 "$app_pid" 2>/dev/null || die "the app exited while being screenshotted"
echo "smoke: OK — screenshot $shot ($colours colours)"
