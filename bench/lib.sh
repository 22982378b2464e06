# Shared helpers for the benchmark scripts (sourced, not run).

# Fills @NAME@ placeholders in a config template from the environment.
render() {
  sed -e "s|@RUN@|$RUN|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
      -e "s|@NGINX_PORT@|${NGINX_PORT:-0}|g" -e "s|@HAPROXY_PORT@|${HAPROXY_PORT:-0}|g" "$1"
}

# Waits until something accepts connections on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing is listening on 127.0.0.1:$1" >&2
  return 1
}

# Runs wrk and prints "requests_per_second p50_ms p99_ms errors non2xx requests connect_errors".
run_wrk() {
  local url=$1 conns=$2 secs=$3
  shift 3
  # A run that cannot connect at all (nothing listens) counts as one failed request and one
  # connect error.
  wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1 | awk '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      return v
    }
    /Requests\/sec/ { rps = $2 }
    / 50%/ { p50 = ms($2) }
    / 99%/ { p99 = ms($2) }
    /Socket errors/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10; connect = $4 }
    /Non-2xx/ { non2xx = $5 }
    /requests in/ { requests = $1 }
    /unable to connect/ { down = 1 }
    END {
      if (down) { print "0 0.000 0.000 1 0 0 1"; exit }
      printf "%.0f %.3f %.3f %d %d %d %d\n", rps, p50, p99, errs, non2xx, requests, connect
    }'
}

# CPU time (user + system, in clock ticks) used so far by process $1 and its children, from
# /proc: the figure a noisy machine moves least.
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" 2>/dev/null); do
    [ -r "/proc/$pid/stat" ] || continue
    # Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name.
    total=$((total + $(sed -e 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$total"
}

# CPU microseconds per request: ticks before and after, and the request count.
cpu_us_per_request() {
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "-" }'
}

# Load timelines, shared by scripts/demo and bench/deploy-under-load. One line per second:
#   t rps p50 p99 errors non2xx requests connect_errors
# where t is seconds since the run started and the rest is run_wrk's output for that second.

# Appends one second of load against $1 to the timeline file $2; $3 is the run's start
# (`date +%s.%N`), $4 the connection count (default 50).
timeline_sample() {
  local url=$1 file=$2 start=$3 conns=${4:-50} t
  t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
  echo "$t $(run_wrk "$url" "$conns" 1)" >>"$file"
}

# Prints "requests failed" for a timeline file; failed counts socket errors and non-2xx answers.
timeline_totals() {
  awk '{ requests += $7; failed += $5 + $6 } END { print requests + 0, failed + 0 }' "$1"
}

# Plots a timeline: requests/s and p99 latency over time, with vertical marks.
#   plot_timeline TIMELINE PNG TITLE [MARKS]
# MARKS is a file of lines "SECONDS COLOR [LABEL...]", e.g. "4.21 red switch".
plot_timeline() {
  local timeline=$1 png=$2 title=$3 marks=${4:-/dev/null} t color label row=0
  {
    echo 'set terminal pngcairo size 1000,500 font ",11"'
    echo "set output \"$png\""
    echo "set title \"$title\""
    echo 'set xlabel "seconds"; set ylabel "requests/s"; set y2label "p99 latency (ms)"'
    echo 'set ytics nomirror; set y2tics; set yrange [0:*]; set y2range [0:*]; set key below'
    while read -r t color label; do
      echo "set arrow from $t, graph 0 to $t, graph 1 nohead lc rgb \"$color\" dt 2"
      if [ -n "$label" ]; then
        echo "set label \"$label\" at $t, graph $((95 - 7 * (row % 3)))e-2 offset 0.5,0 tc rgb \"$color\""
        row=$((row + 1))
      fi
    done <"$marks"
    echo "plot \"$timeline\" using (column(1)+0.5):2 with linespoints lw 2 title \"requests/s\", \\"
    echo "     \"$timeline\" using (column(1)+0.5):4 axes x1y2 with linespoints lw 2 title \"p99 (ms)\""
  } | gnuplot
}

# Counts that do not depend on a noisy clock. Both drive a fixed number of requests with
# h2load (HTTP/1.1, one request at a time per connection) after a warm-up, so connection
# set-up is a small share.

# Syscalls per request of process $1 (all its threads) over `h2load --h1 -n $3 -c $4` to $2.
syscalls_per_request() {
  local pid=$1 url=$2 n=$3 conns=$4 out tracer calls
  out=$(mktemp)
  h2load --h1 -n 2000 -c "$conns" "$url" >/dev/null
  # The process and its children (nginx's and HAProxy's workers), every thread of each.
  # shellcheck disable=SC2046
  strace -c -f $(for p in "$pid" $(pgrep -P "$pid"); do echo "-p $p"; done) -o "$out" \
    2>/dev/null &
  tracer=$!
  sleep 1  # strace attaches every thread before the load starts
  h2load --h1 -n "$n" -c "$conns" "$url" >/dev/null
  kill -INT "$tracer"
  wait "$tracer" 2>/dev/null || true
  calls=$(awk '$NF == "total" { print $4 }' "$out")
  rm -f "$out"
  awk -v c="${calls:-0}" -v n="$n" 'BEGIN { printf "%.2f", c / n }'
}

# User-space instructions per request of a proxy started by the command in $4.. under
# callgrind, listening at $1 (URL), counted over `h2load --h1 -n $2 -c $3` after a warm-up:
# callgrind's counters are zeroed after the warm-up and dumped after the load.
instructions_per_request() {
  local url=$1 n=$2 conns=$3 dir pid port total
  shift 3
  dir=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file="$dir/out.%p" "$@" >"$dir/log" 2>&1 &
  pid=$!
  port=${url##*:}
  port=${port%%/*}
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  h2load --h1 -n 2000 -c "$conns" "$url" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  h2load --h1 -n "$n" -c "$conns" "$url" >/dev/null
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -INT "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # Each dump holds the events since the zeroing, per thread; their sum is the process's.
  total=$(cat "$dir"/out.*.* 2>/dev/null | awk '/^summary:/ { s += $2 } END { print s + 0 }')
  rm -rf "$dir"
  awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }'
}
