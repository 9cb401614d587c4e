#!/bin/sh
# Measures Keel's throughput through the real `keel` binary: N items, W workers, an agent that
# works S seconds (writes a distinct file), on a local forge whose CI runs a shell test.
# Prints: workers items agent_seconds seconds items_per_min develop_runs max_attempt merged
# Usage: scripts/throughput.sh KEEL_BINARY ITEMS WORKERS AGENT_SECONDS
set -eu
keel=$1; items=$2; workers=$3; agent_seconds=$4
dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-throughput.XXXXXX")
trap 'kill $run_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
run_pid=0
git init --quiet --bare --initial-branch=main "$dir/origin.git"
git clone --quiet "$dir/origin.git" "$dir/repo" 2>/dev/null
cd "$dir/repo"
mkdir tests
printf '#!/bin/sh\nset -e\nfor f in greeting-*.txt; do [ -e "$f" ] || continue; grep -q "^hello" "$f"; done\necho ok\n' > tests/run.sh
echo "# bench" > README.md
git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m init && git push --quiet origin HEAD:main
cat > keel-agent.sh <<AGENT
#!/bin/sh
cat > /dev/null
printf 'hello from item %s\n' "\$KEEL_ITEM_ID" > "greeting-\$KEEL_ITEM_ID.txt"
sleep $agent_seconds
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":1}}'
AGENT
chmod +x keel-agent.sh
cat > keel.yml <<CONFIG
project: bench
forge:
  local:
    origin: $dir/origin.git
ci:
  commands: [sh tests/run.sh]
agent:
  kind: command
  command: [./keel-agent.sh]
scheduler:
  workers: $workers
  poll_milliseconds: 100
CONFIG
i=1
while [ "$i" -le "$items" ]; do
  printf 'Greeting %s\n' "$i" > issue.md
  "$keel" submit --title "Greeting $i" --body-file issue.md > /dev/null
  i=$((i + 1))
done
db=.keel/keel.sqlite
start=$(date +%s.%N)
"$keel" run --port 0 > "$dir/run.log" 2>&1 &
run_pid=$!
while [ "$(sqlite3 "$db" "select count(*) from work_items where state in ('merged','needs_human','failed')")" -lt "$items" ]; do
  sleep 0.1
done
end=$(date +%s.%N)
kill -TERM $run_pid; wait $run_pid || true
runs=$(sqlite3 "$db" "select count(*) from agent_runs where stage='develop'")
attempts=$(sqlite3 "$db" "select max(attempt) from work_items")
merged=$(sqlite3 "$db" "select count(*) from work_items where state='merged'")
awk -v w="$workers" -v n="$items" -v s="$agent_seconds" -v a="$start" -v b="$end" -v r="$runs" -v m="$attempts" -v g="$merged" \
  'BEGIN { printf "workers=%d items=%d agent_s=%s seconds=%.1f items_per_min=%.1f develop_runs=%d max_attempt=%d merged=%d\n", w, n, s, b - a, n * 60 / (b - a), r, m, g }'
if [ -n "${KEEP_LOG:-}" ]; then cp "$dir/run.log" "$KEEP_LOG"; fi
