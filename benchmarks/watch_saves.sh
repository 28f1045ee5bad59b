#!/usr/bin/env bash
# Bench a training run's saves as they land, in the order you list them:
#   bash benchmarks/watch_saves.sh LIST OUT
# LIST has one line per save, "RUN_DIR STEP KIND...", highest priority first; KIND is any check of
# benchmarks/ship_checks.sh. Each check of RUN_DIR/models/step-STEP lands in OUT/NAME-sSTEP/KIND.json (NAME
# is RUN_DIR's last part). A save not there yet is passed over until it is. After every check the list is
# read again from the top, so a save that lands meanwhile is benched in the order the list gives it.
# Edit LIST by writing a new file and moving it over the old one (an edit in place can be read half-way).
# Two watchers may share a LIST and an OUT (one per free core): each claims a check with mkdir, which one of
# them wins, before it runs it. A check that failed leaves its log and its claim; remove OUT/NAME-sSTEP/
# KIND.claim to run it again. The watcher stops when every listed check is done or claimed, or on Ctrl-C.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: watch_saves.sh LIST OUT" >&2; exit 2; }
list=$1 out=$2
[ -f "$list" ] || { echo "no list file $list: write one line per save, 'RUN_DIR STEP KIND...'" >&2; exit 2; }
command -v docqa > /dev/null || { echo "docqa is not on PATH: activate the project's venv (. .venv/bin/activate)" >&2; exit 1; }
here=$(dirname "$0")
while true; do
  pending=0 ran=0
  while read -r run step kinds; do
    [ -n "${run:-}" ] && [ "${run:0:1}" != "#" ] || continue
    dir=$out/$(basename "$run")-s$step
    for kind in $kinds; do
      [ -e "$dir/$kind.json" ] || [ -d "$dir/$kind.claim" ] || pending=1
    done
    [ -d "$run/models/step-$step" ] || continue
    for kind in $kinds; do
      [ -e "$dir/$kind.json" ] && continue
      mkdir -p "$dir"
      mkdir "$dir/$kind.claim" 2> /dev/null || continue  # another watcher has it
      echo "$(date +%H:%M:%S) $run step $step: $kind" >&2
      bash "$here/ship_checks.sh" "$run/models/step-$step" "$dir" "$kind" || echo "$kind of $run step $step failed (ship_checks.sh's message above; its log, if it got that far: $dir/$kind.log)" >&2
      ran=1
      break 2  # the list again from the top
    done
  done < "$list"
  [ $ran -eq 1 ] && continue
  [ $pending -eq 1 ] || { echo "every listed check is done or claimed" >&2; exit 0; }
  sleep 30
done
