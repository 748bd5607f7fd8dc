#!/bin/sh
# Guest side of tests/guest/smoke.sh: restore the workload with criu alone and report what
# happens. Runs as the guest script (sh) inside a cpuport test guest. Prints
#   SMOKE-RESULT <SIGILL|SIGNAL-n|RUNNING-OK|RUNNING-BAD|EXITED|RESTORE-FAILED|ERROR> <detail>
# and writes its evidence as a tar stream to /dev/vda. Exit 0 when an outcome was determined.
D=$(dirname "$0")
. "$D/smoke.env"            # WORK IMG OUT REAP
R=/tmp/smoke-result
mkdir -p $R
flags=$(grep -m1 '^flags' /proc/cpuinfo)
have() { case " ${flags#*:} " in *" $1 "*) echo "$1=yes" ;; *) echo "$1=no" ;; esac; }
echo "SMOKE-CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') | $(have xsave) $(have avx) $(have avx2) $(have avx512f) $(have rdrand)"

before=$(wc -l < "$OUT")
last_iter=$(tail -n 1 "$OUT" | sed -n 's/^iter=\([0-9]*\) .*/\1/p')
echo "SMOKE-INFO output file has $before lines before restore, last iter=$last_iter"

cd "$WORK" || exit 1
"$REAP" 3000 criu restore -D "$IMG" -d --cpu-cap=none --pidfile /tmp/smoke.pid \
    -o $R/restore.log -v4 > $R/reap.out 2>&1
rrc=$?
cat $R/reap.out
res=$(sed -n 's/^REAP-RESULT //p' $R/reap.out)
ms=$(sed -n 's/.* exited [0-9]* after \([0-9]*\) ms$/\1/p' $R/reap.out | head -n 1)
echo "SMOKE-TIME restore_ms=${ms:-?}"

outcome=ERROR detail="rc=$rrc $res"
case "$res" in
  "signal 4") outcome=SIGILL; detail="process killed by SIGILL after restore" ;;
  signal*) outcome="SIGNAL-${res#signal }"; detail="process killed by $res" ;;
  exit*) outcome=EXITED; detail="process $res" ;;
  restore-failed*) outcome=RESTORE-FAILED; detail="criu restore failed (${res#restore-failed }); see restore.log"
      tail -n 15 $R/restore.log ;;
  running)
      pid=$(cat /tmp/smoke.pid 2>/dev/null)
      after=$(wc -l < "$OUT")
      new=$((after - before))
      first_new=$(sed -n "$((before + 1))p" "$OUT" | sed -n 's/^iter=\([0-9]*\) .*/\1/p')
      bad=$(tail -n "+$((before + 1))" "$OUT" | grep -vc ' ok$')
      kill -9 "$pid" 2>/dev/null
      if [ "$new" -gt 0 ] && [ "$bad" -eq 0 ] && [ "$first_new" = "$((last_iter + 1))" ]; then
          outcome=RUNNING-OK; detail="$new new lines, iter $first_new.., all sum==ref"
      else
          outcome=RUNNING-BAD; detail="new=$new bad=$bad first_new_iter=$first_new (expected $((last_iter + 1)))"
      fi ;;
esac
dmesg > $R/dmesg.txt
grep -i 'invalid opcode' $R/dmesg.txt | sed 's/^/SMOKE-DMESG /'
cp "$OUT" $R/out.txt
tar cf /dev/vda -C $R . || echo "SMOKE-INFO could not write results to /dev/vda"
echo "SMOKE-RESULT $outcome $detail"
[ "$outcome" != ERROR ]
