#!/usr/bin/env bash
# Keel loopback load harness: Keel vs a bare nginx reverse proxy vs the Portkey gateway, all in
# front of the same fixed-answer nginx upstream on 127.0.0.1. See docs/performance.md.
#
#   bench/load/run.sh            full run: 3 repetitions, 10 s per wrk run (about 10 minutes)
#   bench/load/run.sh --quick    1 repetition, 4 s per wrk run (about 3 minutes)
#
# Environment overrides: BENCH_REPS, BENCH_DURATION (s), BENCH_TTFB_N, BENCH_NGINX_WORKERS (proxy
# nginx worker_processes, default 2 = the machine's cores), BENCH_SKIP_PORTKEY=1, BENCH_SKIP_BUILD=1,
# BENCH_KEEL_STORE_BODIES=false (recording.store_bodies for Keel; default true = Keel's default),
# BENCH_KEEL_LIMITS=1 (Keel is called with a virtual key whose key and project carry rpm, tpm, concurrency and
# budget limits, none of them reached: identity lookup, admission and settling on every request).
#
# Every load goes to 127.0.0.1 only, bounded in time. Every process started here is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK="$HERE/.work"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN="$WORK/run-$STAMP"
RAW="$RUN/raw"
RESULTS_DIR="$ROOT/bench/results"

QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (use --quick)" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  REPS=${BENCH_REPS:-1}; DUR=${BENCH_DURATION:-4}; WARM=5; TTFB_N=${BENCH_TTFB_N:-100}; READY_N=1
else
  REPS=${BENCH_REPS:-3}; DUR=${BENCH_DURATION:-10}; WARM=10; TTFB_N=${BENCH_TTFB_N:-200}; READY_N=3
fi
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-2}
STORE_BODIES=${BENCH_KEEL_STORE_BODIES:-true}
KEEL_LIMITS=${BENCH_KEEL_LIMITS:-0}

log() { printf '\n==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools (bench-time only, never Keel's deps)
ensure_tools() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    log "Installing ${missing[*]} (apt)"
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  command -v dotnet >/dev/null 2>&1 || { echo "dotnet (the .NET 10 SDK) is required" >&2; exit 1; }
}

PORTKEY_ENTRY="$WORK/portkey/node_modules/@portkey-ai/gateway/build/start-server.js"
PORTKEY_STATUS="not run"
ensure_portkey() {
  if [ "${BENCH_SKIP_PORTKEY:-0}" = 1 ]; then PORTKEY_STATUS="skipped (BENCH_SKIP_PORTKEY=1)"; return 1; fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PORTKEY_STATUS="skipped: node/npm not installed (apt-get install -y nodejs npm)"; return 1
  fi
  if [ ! -f "$PORTKEY_ENTRY" ]; then
    log "Installing the Portkey gateway (npm, into bench/load/.work/portkey)"
    mkdir -p "$WORK/portkey"
    [ -f "$WORK/portkey/package.json" ] || echo '{"private":true}' > "$WORK/portkey/package.json"
    if ! (cd "$WORK/portkey" && timeout 300 npm install --no-audit --no-fund --loglevel=error @portkey-ai/gateway >"$WORK/portkey/npm.log" 2>&1); then
      PORTKEY_STATUS="skipped: npm install @portkey-ai/gateway failed (see $WORK/portkey/npm.log)"; return 1
    fi
  fi
  return 0
}

# ---------------------------------------------------------------- process bookkeeping
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_http() { # url [extra curl args...]: waits up to 15 s for any HTTP answer
  local url=$1; shift
  for _ in $(seq 300); do
    if curl -s -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "no answer from $url" >&2; return 1
}

# /proc/PID/stat utime+stime (clock ticks) of a process and its children (nginx workers)
cpu_ticks() {
  local total=0 pid p
  for pid in "$@"; do
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
      if [ -r "/proc/$p/stat" ]; then
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
      fi
    done
  done
  echo "$total"
}

# ---------------------------------------------------------------- bodies
CHAT_BODY='{"model":"bench-model","messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"Say hello to the benchmark in one short sentence, please."}],"max_tokens":32,"temperature":0}'
STREAM_BODY='{"model":"bench-stream","stream":true,"messages":[{"role":"user","content":"Say hello to the benchmark in one short sentence, please."}],"max_tokens":32}'
UPSTREAM_JSON='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":7,"total_tokens":31}}'
sse_body() {
  local i out=""
  for i in $(seq 0 9); do
    out+="data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-stream\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok$i \"},\"finish_reason\":null}]}\\n\\n"
  done
  out+="data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-stream\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":10,\"total_tokens\":30}}\\n\\n"
  out+="data: [DONE]\\n\\n"
  printf '%s' "$out"
}

# ---------------------------------------------------------------- start
ensure_tools
HAVE_PORTKEY=1
ensure_portkey || HAVE_PORTKEY=0
mkdir -p "$RAW" "$RESULTS_DIR"
read -r UP PX KP PK SLOW <<<"$(free_ports 5)"
log "Run directory: $RUN (ports: upstream $UP, nginx proxy $PX, keel $KP, portkey $PK, slow upstream $SLOW)"
cut -d' ' -f1-3 /proc/loadavg >"$RAW/loadavg-start.txt"
note "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
note "repetitions $REPS, wrk duration ${DUR}s (+${WARM}s warm-up per target), TTFB samples $TTFB_N"

# nginx: the fixed-answer upstream (one worker), and the bare reverse proxy with upstream keepalive.
nginx_common() { # name
  local d="$RUN/nginx-$1"
  mkdir -p "$d/tmp"
  cat <<EOF
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; multi_accept on; }
EOF
}
nginx_http_common() { # name
  local d="$RUN/nginx-$1"
  cat <<EOF
  access_log off;
  client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy; fastcgi_temp_path $d/tmp/fcgi;
  uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
  keepalive_requests 10000000; keepalive_timeout 300s; tcp_nodelay on;
  client_body_buffer_size 64k;
EOF
}
{
  nginx_common upstream
  echo "worker_processes 1;"
  echo "http {"
  nginx_http_common upstream
  cat <<EOF
  server {
    listen 127.0.0.1:$UP backlog=4096;
    location = /v1/chat/completions { default_type application/json; return 200 '$UPSTREAM_JSON'; }
    location = /stream/v1/chat/completions { default_type text/event-stream; return 200 "$(sse_body | sed 's/"/\\"/g')"; }
    location / { return 404; }
  }
}
EOF
} > "$RUN/nginx-upstream.conf"
{
  nginx_common proxy
  echo "worker_processes $NGINX_WORKERS;"
  echo "http {"
  nginx_http_common proxy
  cat <<EOF
  upstream up { server 127.0.0.1:$UP; keepalive 256; keepalive_requests 10000000; keepalive_timeout 300s; }
  server {
    listen 127.0.0.1:$PX backlog=4096;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
} > "$RUN/nginx-proxy.conf"

log "Starting the nginx upstream and the nginx reverse proxy"
"$NGINX" -p "$RUN/nginx-upstream" -c "$RUN/nginx-upstream.conf" -e "$RUN/nginx-upstream/error.log" >"$RUN/nginx-upstream.log" 2>&1 &
UP_PID=$!; PIDS+=("$UP_PID")
"$NGINX" -p "$RUN/nginx-proxy" -c "$RUN/nginx-proxy.conf" -e "$RUN/nginx-proxy/error.log" >"$RUN/nginx-proxy.log" 2>&1 &
PX_PID=$!; PIDS+=("$PX_PID")
wait_http "http://127.0.0.1:$UP/"
wait_http "http://127.0.0.1:$PX/"

log "Starting the slow streaming upstream (python, sleeps 50 ms between 10 chunks)"
python3 "$HERE/lib/slow_upstream.py" "$SLOW" "$RUN/slow-sent.jsonl" 10 50 >"$RUN/slow-upstream.log" 2>&1 &
SLOW_PID=$!; PIDS+=("$SLOW_PID")
wait_http "http://127.0.0.1:$SLOW/"

# ---------------------------------------------------------------- Keel
KEEL_DIR="$WORK/keel"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$KEEL_DIR/keel" ]; then
  log "Publishing Keel (Release) to bench/load/.work/keel"
  dotnet publish "$ROOT/src/Keel.Cli" -c Release -r linux-x64 -o "$KEEL_DIR" --nologo -v quiet >"$RUN/publish.log" 2>&1 \
    || { tail -30 "$RUN/publish.log" >&2; exit 1; }
fi
# Keel runs as deployed by default: its working directory holds keel.yaml and the data directory.
KEEL_HOME="$RUN/keel-home"
mkdir -p "$KEEL_HOME"
cat >"$KEEL_HOME/keel.yaml" <<EOF
recording:
  store_bodies: $STORE_BODIES
providers:
  up: { kind: openai, base_url: "http://127.0.0.1:$UP/v1", api_key: "sk-bench" }
  up-stream: { kind: openai, base_url: "http://127.0.0.1:$UP/stream/v1", api_key: "sk-bench" }
  slow: { kind: openai, base_url: "http://127.0.0.1:$SLOW/v1", api_key: "sk-bench" }
models:
  bench-model: { provider: up, model: bench-model }
  bench-stream: { provider: up-stream, model: bench-stream }
  bench-slow: { provider: slow, model: bench-slow }
EOF

KEEL_PID=""
start_keel() { # appends the ready time in ms to $RAW/ready.txt; sets KEEL_PID
  local data="$KEEL_HOME/data-$1" status=0
  rm -rf "$data" "$RUN/keel.pid"
  (cd "$KEEL_HOME" && exec python3 "$HERE/lib/start_wait.py" "http://127.0.0.1:$KP/readyz" "$RUN/keel.pid" "$RUN/keel-$1.log" 20 -- \
    "$KEEL_DIR/keel" serve --port "$KP" --config "$KEEL_HOME/keel.yaml" --data "$data") >>"$RAW/ready.txt" || status=$?
  if [ -s "$RUN/keel.pid" ]; then KEEL_PID=$(cat "$RUN/keel.pid"); PIDS+=("$KEEL_PID"); fi
  if [ "$status" != 0 ]; then tail -20 "$RUN/keel-$1.log" >&2; exit 1; fi
}
stop_keel() {
  kill -TERM "$KEEL_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$KEEL_PID" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL "$KEEL_PID" 2>/dev/null || true
}

log "Keel ready time (process start -> first 200 from /readyz), $READY_N start(s)"
: >"$RAW/ready.txt"
for i in $(seq "$READY_N"); do
  start_keel "$i"
  note "start $i: ready in $(tail -1 "$RAW/ready.txt") ms"
  if [ "$i" -lt "$READY_N" ]; then stop_keel; fi
done
grep -h "ready in" "$RUN"/keel-*.log | tail -1 | sed 's/^/    keel says: /' >&2 || true

# ---------------------------------------------------------------- Portkey
if [ "$HAVE_PORTKEY" = 1 ]; then
  log "Starting the Portkey gateway (node $(node --version))"
  (cd "$RUN" && NODE_ENV=production exec node "$PORTKEY_ENTRY" --port="$PK" --headless) >"$RUN/portkey.log" 2>&1 &
  PK_PID=$!; PIDS+=("$PK_PID")
  if ! wait_http "http://127.0.0.1:$PK/"; then
    HAVE_PORTKEY=0; PORTKEY_STATUS="skipped: the gateway did not start (see $RUN/portkey.log)"
  fi
fi

# ---------------------------------------------------------------- wrk scripts and targets
lua_script() { # file [header=value...]
  local file=$1; shift
  {
    echo 'wrk.method = "POST"'
    echo "wrk.body = [[$CHAT_BODY]]"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    echo 'wrk.headers["Authorization"] = "Bearer sk-bench"'
    local h
    for h in "$@"; do echo "wrk.headers[\"${h%%=*}\"] = \"${h#*=}\""; done
  } >"$file"
}
lua_script "$RUN/post.lua"
KEEL_LUA="$RUN/post.lua"
if [ "$KEEL_LIMITS" = 1 ]; then
  LIMITS='{"rpm":100000000,"tpm":2000000000,"max_concurrent":100000,"daily_budget_usd":1000000,"monthly_budget_usd":10000000}'
  PROJECT=$(curl -s -H 'content-type: application/json' --data-binary "{\"name\":\"bench\",\"limits\":$LIMITS}" "http://127.0.0.1:$KP/api/projects" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  LIMITED_KEY=$(curl -s -H 'content-type: application/json' \
    --data-binary "{\"name\":\"bench\",\"role\":\"gateway\",\"project\":\"$PROJECT\",\"limits\":$LIMITS}" "http://127.0.0.1:$KP/api/keys" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  lua_script "$RUN/post-keel.lua"
  sed -i "s/Bearer sk-bench/Bearer $LIMITED_KEY/" "$RUN/post-keel.lua"
  KEEL_LUA="$RUN/post-keel.lua"
  note "keel is called with a limited gateway key of project $PROJECT"
fi
lua_script "$RUN/post-portkey.lua" "x-portkey-provider=openai" "x-portkey-custom-host=http://127.0.0.1:$UP/v1"

declare -A URL LUA SPIDS
URL[direct]="http://127.0.0.1:$UP/v1/chat/completions"; LUA[direct]="$RUN/post.lua"; SPIDS[direct]="$UP_PID"
URL[nginx]="http://127.0.0.1:$PX/v1/chat/completions"; LUA[nginx]="$RUN/post.lua"; SPIDS[nginx]="$PX_PID"
URL[keel]="http://127.0.0.1:$KP/v1/chat/completions"; LUA[keel]="$KEEL_LUA"; SPIDS[keel]="$KEEL_PID"
TARGETS=(direct nginx keel)
if [ "$HAVE_PORTKEY" = 1 ]; then
  URL[portkey]="http://127.0.0.1:$PK/v1/chat/completions"; LUA[portkey]="$RUN/post-portkey.lua"; SPIDS[portkey]="$PK_PID"
  TARGETS+=(portkey)
fi

log "Checking every target answers the chat request with 200"
for t in "${TARGETS[@]}"; do
  extra=()
  [ "$t" = portkey ] && extra=(-H "x-portkey-provider: openai" -H "x-portkey-custom-host: http://127.0.0.1:$UP/v1")
  code=$(curl -s -o "$RUN/check-$t.json" -w '%{http_code}' -H 'content-type: application/json' -H 'authorization: Bearer sk-bench' \
    "${extra[@]}" --data-binary "$CHAT_BODY" "${URL[$t]}")
  if [ "$code" != 200 ]; then
    echo "target $t answered $code: $(head -c 400 "$RUN/check-$t.json")" >&2
    if [ "$t" = portkey ]; then
      PORTKEY_STATUS="skipped: the gateway answered $code to the check request"; HAVE_PORTKEY=0; TARGETS=(direct nginx keel); continue
    fi
    exit 1
  fi
  note "$t: 200, $(wc -c <"$RUN/check-$t.json") bytes"
done
[ "$HAVE_PORTKEY" = 1 ] && PORTKEY_STATUS="ran ($(node -e 'console.log(require(process.argv[1]).version)' "$WORK/portkey/node_modules/@portkey-ai/gateway/package.json"))"

# Keel's recorder idle: nothing queued and every spooled trace replayed.
keel_recorder_idle() {
  curl -s "http://127.0.0.1:$KP/metrics" | awk '/^keel_recorder_queue_depth / {q = $2} /^keel_recorder_spooled_total / {s = $2}
    /^keel_recorder_replayed_total / {r = $2} END {exit !(q == 0 && s == r)}'
}

# Waits (up to 2 minutes) until Keel has written every trace of the run that just ended; prints the
# milliseconds it took. The traces a run spools while the store is behind are written after wrk
# stops: that work belongs to the run, and must not spill into the next target's.
keel_drain_ms() {
  local start=$(date +%s%N)
  for _ in $(seq 1200); do keel_recorder_idle && break; sleep 0.1; done
  echo $((($(date +%s%N) - start) / 1000000))
}

run_wrk() { # target phase rep duration threads conns
  local t=$1 phase=$2 rep=$3 d=$4 th=$5 c=$6 before after
  before=$(cpu_ticks ${SPIDS[$t]})
  wrk -t"$th" -c"$c" -d"${d}s" --timeout 5s --latency -s "${LUA[$t]}" "${URL[$t]}" >"$RAW/$phase-$t-$rep.txt" 2>&1 || true
  # Keel's CPU per request includes the recording it deferred; its sustained rate counts the drain time.
  if [ "$t" = keel ]; then keel_drain_ms >"$RAW/drain-$phase-$t-$rep.txt"; fi
  after=$(cpu_ticks ${SPIDS[$t]})
  echo "$((after - before))" >"$RAW/cpu-$phase-$t-$rep.txt"
}

log "Warm-up (${WARM}s at c=64 + 2s at c=1 per target: JIT tiers, connection pools)"
for t in "${TARGETS[@]}"; do
  wrk -t2 -c64 -d"${WARM}s" -s "${LUA[$t]}" "${URL[$t]}" >"$RAW/warmup-$t.txt" 2>&1 || true
  if [ "$t" = keel ]; then keel_drain_ms >/dev/null; fi
  wrk -t1 -c1 -d2s -s "${LUA[$t]}" "${URL[$t]}" >/dev/null 2>&1 || true
  note "$t warm-up: $(awk '/Requests\/sec/ {print $2}' "$RAW/warmup-$t.txt") req/s"
done

for rep in $(seq "$REPS"); do
  log "Repetition $rep/$REPS"
  for t in "${TARGETS[@]}"; do
    run_wrk "$t" c1 "$rep" "$DUR" 1 1
    run_wrk "$t" c64 "$rep" "$DUR" 2 64
    note "$t: c=1 p50 $(awk '$1=="50%" {print $2}' "$RAW/c1-$t-$rep.txt"), p99 $(awk '$1=="99%" {print $2}' "$RAW/c1-$t-$rep.txt"); c=64 $(awk '/Requests\/sec/ {print $2}' "$RAW/c64-$t-$rep.txt") req/s"
  done
  VmRSS=$(awk '/VmRSS/ {print $2}' "/proc/$KEEL_PID/status"); VmHWM=$(awk '/VmHWM/ {print $2}' "/proc/$KEEL_PID/status")
  echo "$rep $VmRSS $VmHWM" >>"$RAW/keel-rss.txt"
  note "keel RSS after repetition $rep: VmRSS $((VmRSS / 1024)) MB, VmHWM $((VmHWM / 1024)) MB"
done
if [ "$HAVE_PORTKEY" = 1 ] && [ -r "/proc/$PK_PID/status" ]; then
  echo "$(awk '/VmRSS/ {print $2}' "/proc/$PK_PID/status") $(awk '/VmHWM/ {print $2}' "/proc/$PK_PID/status")" >"$RAW/portkey-rss.txt"
fi

# ---------------------------------------------------------------- streaming: time to first byte
ttfb() { # name url n out
  local args=() i
  for i in $(seq "$3"); do args+=("$2" -o /dev/null); done
  curl -s -H 'content-type: application/json' -H 'authorization: Bearer sk-bench' --data-binary "$STREAM_BODY" \
    -w '%{http_code} %{time_starttransfer}\n' "${args[@]}" >"$4"
}
STREAM_DIRECT="http://127.0.0.1:$UP/stream/v1/chat/completions"
STREAM_KEEL="http://127.0.0.1:$KP/v1/chat/completions"
log "Streaming TTFB: $TTFB_N requests on one keep-alive connection, direct vs Keel, $REPS repetition(s)"
curl -s -H 'content-type: application/json' --data-binary "$STREAM_BODY" "$STREAM_KEEL" >"$RUN/check-stream-keel.txt"
if ! grep -q '\[DONE\]' "$RUN/check-stream-keel.txt"; then
  echo "Keel's stream did not end with [DONE]: $(head -c 400 "$RUN/check-stream-keel.txt")" >&2; exit 1
fi
note "keel relays $(grep -c '^data: ' "$RUN/check-stream-keel.txt") SSE events (10 chunks + usage chunk + [DONE])"
ttfb direct "$STREAM_DIRECT" 50 /dev/null; ttfb keel "$STREAM_KEEL" 50 /dev/null
for rep in $(seq "$REPS"); do
  ttfb direct "$STREAM_DIRECT" "$TTFB_N" "$RAW/ttfb-direct-$rep.txt"
  ttfb keel "$STREAM_KEEL" "$TTFB_N" "$RAW/ttfb-keel-$rep.txt"
done

# ---------------------------------------------------------------- streaming: chunks leave Keel as they arrive
log "Streaming relay: per-chunk arrival vs the slow upstream's send times (50 ms apart)"
for i in 1 2 3; do
  python3 "$HERE/lib/stream_probe.py" "http://127.0.0.1:$SLOW/v1/chat/completions" bench-slow "direct-$i" "$RUN/slow-sent.jsonl" >"$RAW/relay-direct-$i.json"
  python3 "$HERE/lib/stream_probe.py" "http://127.0.0.1:$KP/v1/chat/completions" bench-slow "keel-$i" "$RUN/slow-sent.jsonl" >"$RAW/relay-keel-$i.json"
done

VmRSS=$(awk '/VmRSS/ {print $2}' "/proc/$KEEL_PID/status"); VmHWM=$(awk '/VmHWM/ {print $2}' "/proc/$KEEL_PID/status")
echo "end $VmRSS $VmHWM" >>"$RAW/keel-rss.txt"
# "Tracing on" means every request recorded: the recorder's counters say whether it kept up (once its queue
# has drained: a trace still queued is neither written nor dropped yet).
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$KP/metrics" >"$RAW/keel-metrics.txt" || true
  grep -q '^keel_recorder_queue_depth 0$' "$RAW/keel-metrics.txt" && break
  sleep 0.1
done
awk '/^keel_recorder_(written|dropped)_total / {print $1, $2}' "$RAW/keel-metrics.txt" >"$RAW/keel-recorder.txt"

# ---------------------------------------------------------------- report
OUT="$RESULTS_DIR/load-$STAMP.json"
python3 "$HERE/lib/report.py" "$RAW" "$OUT" \
  --reps "$REPS" --duration "$DUR" --quick "$QUICK" --nginx-workers "$NGINX_WORKERS" --store-bodies "$STORE_BODIES" \
  --portkey-status "$PORTKEY_STATUS" --targets "${TARGETS[*]}" --ttfb-n "$TTFB_N" \
  --keel-rev "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "Results: $OUT (raw wrk output in $RAW)"
