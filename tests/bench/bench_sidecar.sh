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
# be shared: compare the rows of one run). WRK_SECONDS, WRK_CONNECTIONS
# override the length and concurrency of a run, BENCH_ROUNDS how many
# times each path is run (in turn; the median is kept).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/lib.sh

SIDECAR_BIN=$XL_TOP/build/xlimit-sidecar
SECS=${WRK_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
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
nginx_run ngx1 1 "$(proxy_server $NGX1) include $XL_TMP/xlimit.conf;"
nginx_run ngx2 2 "$(proxy_server $NGX2)"
"$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$SC1 \
	--upstream 127.0.0.1:$APP --auth-listen 127.0.0.1:$AUTH --trust-proxy 127.0.0.1 \
	>"$XL_TMP/sidecar1.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
"$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$SC2 \
	--upstream 127.0.0.1:$APP --workers 2 >"$XL_TMP/sidecar2.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
for p in $APP $NGX1 $NGX2 $SC1 $SC2 $NGXA; do
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$p/" && break
		sleep 0.1
	done
done

# run NAME PORT THREADS: "rps p99_ms non2xx" from wrk.
run() {
	wrk -t"$3" -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$2/" >"$XL_TMP/$1.wrk" 2>&1
	awk '/^Requests\/sec:/ { rps = $2 }
	     $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		ms = u == "us" ? v / 1000 : u == "s" ? v * 1000 : v }
	     /Non-2xx/ { bad = $NF }
	     END { printf "%.0f %.3f %d\n", rps, ms, bad }' "$XL_TMP/$1.wrk"
}

# The paths take turns, ROUNDS times, and each row is the round of median
# requests/s: a load that comes and goes on a shared machine falls on
# every path alike rather than on one.
for ((round = 0; round < ROUNDS; round++)); do
	run app $APP 1 >>"$XL_TMP/app.rounds"
	run nginx1 $NGX1 1 >>"$XL_TMP/n1.rounds"
	run sidecar1 $SC1 1 >>"$XL_TMP/s1.rounds"
	run nginx2 $NGX2 2 >>"$XL_TMP/n2.rounds"
	run sidecar2 $SC2 2 >>"$XL_TMP/s2.rounds"
	run nginx_auth $NGXA 1 >>"$XL_TMP/na.rounds"
done
median() { sort -n "$XL_TMP/$1.rounds" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
read -r app_rps app_p99 app_bad < <(median app)
read -r n1_rps n1_p99 n1_bad < <(median n1)
read -r s1_rps s1_p99 s1_bad < <(median s1)
read -r n2_rps n2_p99 n2_bad < <(median n2)
read -r s2_rps s2_p99 s2_bad < <(median s2)
read -r na_rps na_p99 na_bad < <(median na)

echo "wrk -c$CONNS -d${SECS}s --latency, -t as many as the proxy's workers, each path"
echo "$ROUNDS times in turn (the round of median requests/s is shown); loopback,"
echo "$(nproc) CPUs shared by wrk, the proxies and the application (an nginx"
echo "\`return 200\` with 2 workers); load average at start: $LOAD."
echo
echo "| path | workers | requests/s | p99 latency | vs nginx proxy_pass, same workers | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
row() {
	awk -v n="$1" -v w="$2" -v r="$3" -v l="$4" -v g="$5" -v b="$6" \
		'BEGIN { printf "| %s | %s | %d | %.2f ms | %s | %d |\n", n, w, r, l, g ? sprintf("%.2f", r / g) : "-", b }'
}
row "application, directly" 2 "$app_rps" "$app_p99" 0 "$app_bad"
row "nginx proxy_pass" 1 "$n1_rps" "$n1_p99" "$n1_rps" "$n1_bad"
row "xlimit-sidecar (each request charged)" 1 "$s1_rps" "$s1_p99" "$n1_rps" "$s1_bad"
row "nginx proxy_pass" 2 "$n2_rps" "$n2_p99" "$n2_rps" "$n2_bad"
row "xlimit-sidecar (each request charged)" 2 "$s2_rps" "$s2_p99" "$n2_rps" "$s2_bad"
row "nginx + sidecar auth_request" 1 "$na_rps" "$na_p99" "$n1_rps" "$na_bad"
echo
awk -v s1="$s1_rps" -v s2="$s2_rps" -v n1="$n1_rps" -v n2="$n2_rps" \
	-v sl1="$s1_p99" -v sl2="$s2_p99" -v nl1="$n1_p99" -v nl2="$n2_p99" 'BEGIN {
	printf "The sidecar serves %.2fx nginx proxy_pass'"'"'s request rate with 1 worker each (p99 %.2f vs %.2f ms) and %.2fx with 2 (p99 %.2f vs %.2f ms); from 1 to 2 workers it scales %.2fx, nginx %.2fx.\n",
		s1 / n1, sl1, nl1, s2 / n2, sl2, nl2, s2 / s1, n2 / n1 }'
