# Shared by the benchmark scripts in this folder: sizes, iperf3, nodes, units,
# and writing one section of docs/benchmarks.md. Source it; it sets nothing
# until a function is called.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# KIZUNA: the launcher to run; by default ./kizuna, which builds the distribution when needed
kizuna="${KIZUNA:-$root/kizuna}"
doc="$root/docs/benchmarks.md"

# bytes SIZE: 512K, 256M, 1G (powers of 1024) or a plain number -> bytes
bytes() {
  case "$1" in
    *[kK]) echo $(( ${1%?} << 10 ));;
    *[mM]) echo $(( ${1%?} << 20 ));;
    *[gG]) echo $(( ${1%?} << 30 ));;
    *[0-9]) echo "$1";;
    *) say "size '$1' is not understood: write e.g. 256M or 1G"; return 2;;
  esac
}

ensure_iperf3() {
  command -v iperf3 >/dev/null 2>&1 && return 0
  if [[ $(id -u) -ne 0 ]]; then
    say "iperf3 is missing; install it as root: apt-get install iperf3"
    return 1
  fi
  say "installing iperf3"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 >/dev/null
}

work="$(mktemp -d)"
node_pid=""
iperf_pid=""
cleanup() {
  [[ -n "$node_pid" ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  [[ -n "$iperf_pid" ]] && kill "$iperf_pid" 2>/dev/null && wait "$iperf_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_node LISTEN [ARGS...]: node A as a daemon (more launcher arguments after LISTEN);
# sets $address once it is ready.
start_node() {
  "$kizuna" --home "$work/a" --listen "$1" "${@:2}" </dev/null >"$work/a.out" 2>&1 &
  node_pid=$!
  address=""
  for _ in $(seq 1 1200); do
    address="$(sed -n 's/.*node ready: \([^ ]*\).*/\1/p' "$work/a.out" | head -1)"
    [[ -n "$address" ]] && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$work/a.out" >&2; say "node A did not start"; return 1; }
    sleep 0.1
  done
  [[ -n "$address" ]] || { cat "$work/a.out" >&2; say "node A was not ready within 120 s"; return 1; }
  say "node A: $address"
}

# perf_figures FILE: the "upload" and "download" rates of the last kizuna:perf in FILE, as Gbit/s
perf_up() { gbit "$(awk '/^upload /{v=$(NF-1)" "$NF} END{print v}' "$1")"; }
perf_down() { gbit "$(awk '/^download /{v=$(NF-1)" "$NF} END{print v}' "$1")"; }

# iperf3 on loopback, BYTES each way; sets $iperf_up and $iperf_down (Gbit/s).
run_iperf3() {
  local bytes=$1 port=$(( 20000 + RANDOM % 20000 )) up down
  iperf3 -s -p "$port" >"$work/iperf-server.out" 2>&1 &
  iperf_pid=$!
  up="$(iperf_client "$port" "$bytes")"
  down="$(iperf_client "$port" "$bytes" -R)"
  echo "$up" | tail -4
  echo "$down" | tail -4
  iperf_up="$(gbit "$(echo "$up" | iperf_rate) M")"
  iperf_down="$(gbit "$(echo "$down" | iperf_rate) M")"
  kill "$iperf_pid" 2>/dev/null && wait "$iperf_pid" 2>/dev/null || true
  iperf_pid=""
}

iperf_client() {
  local port=$1 bytes=$2 out
  shift 2
  for _ in $(seq 1 50); do
    if out="$(iperf3 -c 127.0.0.1 -p "$port" -n "$bytes" -f m "$@" 2>&1)"; then
      echo "$out"
      return 0
    fi
    sleep 0.1
  done
  echo "$out" >&2
  return 1
}

iperf_rate() { awk '/receiver/{for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1)} END{print v}'; }

# gbit "3.66 Gbit/s" | "950.3 Mbit/s" -> 3.66 | 0.95
gbit() {
  awk -v v="$1" 'BEGIN{split(v, a, " "); g = a[1]; if (a[2] ~ /^M/ || a[2] == "") g /= 1000; else if (a[2] ~ /^k/) g /= 1e6; printf "%.2f", g}'
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", (b > 0 ? 100 * a / b : 0)}'; }

machine() {
  local cpu
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
  echo "$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $(java -version 2>&1 | head -1)"
}

# write_section NAME TEXT: replaces the NAME block of docs/benchmarks.md, or appends it
write_section() {
  local name=$1 section=$2
  if [[ ! -f "$doc" ]]; then
    printf '# Benchmarks\n\nFigures printed by the programs in `itests/bench/`, each run against a\nreference tool over the same link in the same run.\n\n' >"$doc"
  fi
  if grep -q "<!-- $name:begin" "$doc"; then
    awk -v section="$section" -v begin="<!-- $name:begin" -v end="<!-- $name:end -->" '
      index($0, begin) == 1 { print section; skip = 1; next }
      index($0, end) == 1 { skip = 0; next }
      !skip { print }' "$doc" >"$work/doc" && cat "$work/doc" >"$doc"
  else
    printf '\n%s\n' "$section" >>"$doc"
  fi
  say "wrote $doc"
}
