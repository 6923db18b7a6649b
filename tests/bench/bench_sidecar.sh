#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Sidecar benchmark: requests per second and p99 latency, measured with
# wrk on loopback in the same run, of a small application reached
# directly, through nginx's plain proxy_pass with 1 and 2
# worker_processes, through xlimit-sidecar with --workers 1 and 2 (every
# request charged in the kernel through the syscall program), and through
# nginx (1 worker) asking the sidecar by auth_request (the shipped
# docs/nginx-xlimit.conf). wrk runs one thread per proxy worker. The
# application is an nginx of its own (2 workers) returning a short body,
# so that it costs little beside the proxies. xlimit is loaded in a
# private pin directory with a limit nobody reaches. Prints a Markdown
# section with the ratio of each sidecar row to nginx with as many
# workers, and the load average the run started under (the machine may
# be shared: compare the rows of one run). Each round runs every path
# once, in turn, so that a load coming and going falls on nginx and the
# sidecar alike; the ratio to nginx is taken within each round and the
# median of the rounds' ratios is the verdict (each round's is printed
# too). Beside requests/s, the CPU time (user and system, from
# /proc/PID/stat) the proxy's processes spent per request: on a machine
# where wrk, the application and the proxy share the CPUs it is the
# sharper yardstick. WRK_SECONDS, WRK_CONNECTIONS override the length and
# concurrency of a run, BENCH_ROUNDS the number of rounds, SIDECAR_BIN
# the sidecar (e.g. an older build, to compare).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/lib.sh

SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
SECS=${WRK_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-7}
CONNS=${WRK_CONNECTIONS:-32}
APP=18600 NGX1=18601 SC1=18602 NGXA=18603 AUTH=18604 NGX2=18605 SC2=18606
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

for t in wrk nginx "$SIDECAR_BIN"; do
	command -v "$t" >/dev/null || { echo "bench_sidecar: needs $t" >&2; exit 1; }
done
xl_test_init >/dev/null
xl load >/dev/null || exit 1
for p in $SC1 $SC2 $NGXA; do
	xl limit set $p "16000000 per 1 hour" --action pass >/dev/null || exit 1
done

# nginx_run NAME WORKERS SERVERS: an nginx instance of its own in
# $XL_TMP/NAME, with WORKERS worker_processes.
nginx_run() {
	local d=$XL_TMP/$1
	NGINX_PID=
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
daemon off;
user root;
worker_processes $2;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	upstream bench_app { server 127.0.0.1:$APP; keepalive 64; }
	$3
}
EOF
	nginx -p "$d" -c "$d/nginx.conf" >"$d/nginx.log" 2>&1 &
	NGINX_PID=$!
	XL_CLEANUPS+=("kill $!")
}
proxy_server() {
	echo "server {
		listen 127.0.0.1:$1;
		keepalive_requests 1000000;
		location / {
			proxy_pass http://bench_app;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}
	}"
}
nginx_run app 2 "server {
		listen 127.0.0.1:$APP;
		keepalive_requests 1000000;
		location / { default_type text/plain; return 200 \"hello\\n\"; }
	}"
sed -e "s/127.0.0.1:8080/127.0.0.1:$APP/; s/127.0.0.1:9090/127.0.0.1:$AUTH/" \
	-e "s/listen 80;/listen 127.0.0.1:$NGXA;/" docs/nginx-xlimit.conf >"$XL_TMP/xlimit.conf"
APP_PID=$NGINX_PID
nginx_run ngx1 1 "$(proxy_server $NGX1) include $XL_TMP/xlimit.conf;"
NGX1_PID=$NGINX_PID
nginx_run ngx2 2 "$(proxy_server $NGX2)"
NGX2_PID=$NGINX_PID
"$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$SC1 \
	--upstream 127.0.0.1:$APP --auth-listen 127.0.0.1:$AUTH --trust-proxy 127.0.0.1 \
	>"$XL_TMP/sidecar1.log" 2>&1 &
SC1_PID=$!
XL_CLEANUPS+=("kill $!")
"$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$SC2 \
	--upstream 127.0.0.1:$APP --workers 2 >"$XL_TMP/sidecar2.log" 2>&1 &
SC2_PID=$!
XL_CLEANUPS+=("kill $!")
for p in $APP $NGX1 $NGX2 $SC1 $SC2 $NGXA; do
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$p/" && break
		sleep 0.1
	done
done

# cpu PID...: the clock ticks (user, system) the processes PID and their
# children (nginx's workers; a sidecar's threads are in its own) spent.
cpu() {
	local p pids=()
	for p in "$@"; do
		pids+=("$p" $(pgrep -P "$p"))
	done
	for p in "${pids[@]}"; do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
	done | awk '{ u += $12; s += $13 } END { print u + 0, s + 0 }'
}

# run NAME PORT THREADS PID...: "rps p99_ms non2xx user_us sys_us" from
# wrk, the last two the CPU time of the proxy's processes PID per request
# (microseconds).
run() {
	local name=$1 port=$2 threads=$3 u0 s0 u1 s1
	shift 3
	read -r u0 s0 < <(cpu "$@")
	wrk -t"$threads" -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/" \
		>"$XL_TMP/$name.wrk" 2>&1
	read -r u1 s1 < <(cpu "$@")
	awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" '
	     / requests in / { n = $1 }
	     /^Requests\/sec:/ { rps = $2 }
	     $1 == "99%" { v = $2; un = v; sub(/[0-9.]+/, "", un); sub(/[a-z]+$/, "", v)
		ms = un == "us" ? v / 1000 : un == "s" ? v * 1000 : v }
	     /Non-2xx/ { bad = $NF }
	     END { printf "%.0f %.3f %d %.1f %.1f\n", rps, ms, bad,
		n ? u * 1e6 / hz / n : 0, n ? s * 1e6 / hz / n : 0 }' "$XL_TMP/$name.wrk"
}

# Every round runs each path once, in turn: a load that comes and goes on
# a shared machine falls on nginx and the sidecar alike.
for ((round = 0; round < ROUNDS; round++)); do
	run app $APP 1 $APP_PID >>"$XL_TMP/app.rounds"
	run nginx1 $NGX1 1 $NGX1_PID >>"$XL_TMP/n1.rounds"
	run sidecar1 $SC1 1 $SC1_PID >>"$XL_TMP/s1.rounds"
	run nginx2 $NGX2 2 $NGX2_PID >>"$XL_TMP/n2.rounds"
	run sidecar2 $SC2 2 $SC2_PID >>"$XL_TMP/s2.rounds"
	run nginx_auth $NGXA 1 $NGX1_PID $SC1_PID >>"$XL_TMP/na.rounds"
done
# median FILE COLUMN: the median of a column of FILE.rounds.
median() {
	awk -v c="$2" '{ print $c }' "$XL_TMP/$1.rounds" | sort -g |
		awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
# ratios A B: each round's ratio of A's requests/s to B's, on one line.
ratios() {
	paste -d' ' "$XL_TMP/$1.rounds" "$XL_TMP/$2.rounds" |
		awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 / $6 }'
}
# stats NAME: "rps p99 non2xx user_us sys_us", each the median of its
# column over the rounds.
stats() {
	local c
	for c in 1 2 3 4 5; do
		printf '%s ' "$(median "$1" $c)"
	done
	echo
}
read -r app_rps app_p99 app_bad app_u app_s < <(stats app)
read -r n1_rps n1_p99 n1_bad n1_u n1_s < <(stats n1)
read -r s1_rps s1_p99 s1_bad s1_u s1_s < <(stats s1)
read -r n2_rps n2_p99 n2_bad n2_u n2_s < <(stats n2)
read -r s2_rps s2_p99 s2_bad s2_u s2_s < <(stats s2)
read -r na_rps na_p99 na_bad na_u na_s < <(stats na)
r_s1=$(ratios s1 n1) r_s2=$(ratios s2 n2) r_na=$(ratios na n1)
# mid "R1 R2 ...": their median.
mid() { tr ' ' '\n' <<<"$1" | sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

echo "wrk -c$CONNS -d${SECS}s --latency, -t as many as the proxy's workers; $ROUNDS"
echo "rounds, each running every path once in turn; the median over the rounds"
echo "of each column is shown, and the ratio to nginx is the median of the"
echo "rounds' ratios. CPU: user + system time of the proxy's processes (for"
echo "auth_request nginx's and the sidecar's) per request. Loopback, $(nproc) CPUs"
echo "shared by wrk, the proxies and the application (an nginx \`return 200\`"
echo "with 2 workers); load average at start: $LOAD."
echo
echo "| path | workers | requests/s | p99 latency | vs nginx proxy_pass, same workers | CPU per request (user + sys) | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row() {
	awk -v n="$1" -v w="$2" -v r="$3" -v l="$4" -v g="$5" -v u="$6" -v s="$7" -v b="$8" \
		'BEGIN { printf "| %s | %s | %d | %.2f ms | %s | %.1f µs (%.1f + %.1f) | %d |\n",
			n, w, r, l, g, u + s, u, s, b }'
}
row "application, directly" 2 "$app_rps" "$app_p99" - "$app_u" "$app_s" "$app_bad"
row "nginx proxy_pass" 1 "$n1_rps" "$n1_p99" 1.00 "$n1_u" "$n1_s" "$n1_bad"
row "xlimit-sidecar (each request charged)" 1 "$s1_rps" "$s1_p99" "$(mid "$r_s1")" "$s1_u" "$s1_s" "$s1_bad"
row "nginx proxy_pass" 2 "$n2_rps" "$n2_p99" 1.00 "$n2_u" "$n2_s" "$n2_bad"
row "xlimit-sidecar (each request charged)" 2 "$s2_rps" "$s2_p99" "$(mid "$r_s2")" "$s2_u" "$s2_s" "$s2_bad"
row "nginx + sidecar auth_request" 1 "$na_rps" "$na_p99" "$(mid "$r_na")" "$na_u" "$na_s" "$na_bad"
echo
echo "Each round's ratio to nginx: sidecar, 1 worker: $r_s1; 2 workers: $r_s2;"
echo "auth_request: $r_na."
echo
awk -v s1="$(mid "$r_s1")" -v s2="$(mid "$r_s2")" \
	-v sl1="$s1_p99" -v sl2="$s2_p99" -v nl1="$n1_p99" -v nl2="$n2_p99" \
	-v sc1="$s1_u $s1_s" -v nc1="$n1_u $n1_s" -v sc2="$s2_u $s2_s" -v nc2="$n2_u $n2_s" \
	-v s1r="$s1_rps" -v s2r="$s2_rps" -v n1r="$n1_rps" -v n2r="$n2_rps" 'BEGIN {
	split(sc1, a); split(nc1, b); split(sc2, c); split(nc2, d)
	printf "The sidecar serves %.2fx nginx proxy_pass'"'"'s request rate with 1 worker each (p99 %.2f vs %.2f ms, CPU %.1f vs %.1f µs a request) and %.2fx with 2 (p99 %.2f vs %.2f ms, CPU %.1f vs %.1f µs); from 1 to 2 workers it scales %.2fx, nginx %.2fx.\n",
		s1, sl1, nl1, a[1] + a[2], b[1] + b[2], s2, sl2, nl2, c[1] + c[2], d[1] + d[2],
		s2r / s1r, n2r / n1r }'
