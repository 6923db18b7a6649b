#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Sidecar benchmark: requests per second and p99 latency, measured with
# wrk on loopback in the same run, of a small application reached
# directly, through nginx's plain proxy_pass, through xlimit-sidecar (every
# request charged in the kernel through the syscall program), and through
# nginx asking the sidecar by auth_request (the shipped
# docs/nginx-xlimit.conf). The application is nginx returning a short
# body, so that it costs little beside the proxies. xlimit is loaded in a
# private pin directory with a limit nobody reaches. Prints a Markdown
# section. WRK_SECONDS, WRK_CONNECTIONS override the run's length and
# concurrency.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/lib.sh

SIDECAR_BIN=$XL_TOP/build/xlimit-sidecar
SECS=${WRK_SECONDS:-5}
CONNS=${WRK_CONNECTIONS:-32}
APP=18600 NGX=18601 SC=18602 NGXA=18603 AUTH=18604

for t in wrk nginx "$SIDECAR_BIN"; do
	command -v "$t" >/dev/null || { echo "bench_sidecar: needs $t" >&2; exit 1; }
done
xl_test_init >/dev/null
xl load >/dev/null || exit 1
for p in $SC $NGXA; do
	xl limit set $p "16000000 per 1 hour" --action pass >/dev/null || exit 1
done

D=$XL_TMP/nginx
mkdir -p "$D"
sed -e "s/127.0.0.1:8080/127.0.0.1:$APP/; s/127.0.0.1:9090/127.0.0.1:$AUTH/" \
	-e "s/listen 80;/listen 127.0.0.1:$NGXA;/" docs/nginx-xlimit.conf >"$D/xlimit.conf"
cat >"$D/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $D/nginx.pid;
error_log $D/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $D/body;
	proxy_temp_path $D/proxy;
	fastcgi_temp_path $D/fastcgi;
	uwsgi_temp_path $D/uwsgi;
	scgi_temp_path $D/scgi;
	server {
		listen 127.0.0.1:$APP;
		keepalive_requests 1000000;
		location / { default_type text/plain; return 200 "hello\n"; }
	}
	upstream bench_app { server 127.0.0.1:$APP; keepalive 64; }
	server {
		listen 127.0.0.1:$NGX;
		keepalive_requests 1000000;
		location / {
			proxy_pass http://bench_app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
	include $D/xlimit.conf;
}
EOF
nginx -p "$D" -c "$D/nginx.conf" >"$XL_TMP/nginx.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
"$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$SC \
	--upstream 127.0.0.1:$APP --auth-listen 127.0.0.1:$AUTH --trust-proxy 127.0.0.1 \
	>"$XL_TMP/sidecar.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
for p in $APP $NGX $SC $NGXA; do
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$p/" && break
		sleep 0.1
	done
done

# run NAME PORT: "rps p99_ms" from wrk.
run() {
	wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$2/" >"$XL_TMP/$1.wrk" 2>&1
	awk '/^Requests\/sec:/ { rps = $2 }
	     $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		ms = u == "us" ? v / 1000 : u == "s" ? v * 1000 : v }
	     /Non-2xx/ { bad = $NF }
	     END { printf "%.0f %.3f %d\n", rps, ms, bad }' "$XL_TMP/$1.wrk"
}

read -r app_rps app_p99 app_bad < <(run app $APP)
read -r ngx_rps ngx_p99 ngx_bad < <(run nginx $NGX)
read -r sc_rps sc_p99 sc_bad < <(run sidecar $SC)
read -r ngxa_rps ngxa_p99 ngxa_bad < <(run nginx_auth $NGXA)

echo "wrk -t1 -c$CONNS -d${SECS}s --latency, loopback, $(nproc) CPUs shared by"
echo "wrk and the servers; the application is an nginx \`return 200\`."
echo
echo "| path | requests/s | p99 latency | vs direct | vs nginx proxy_pass | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
row() {
	awk -v n="$1" -v r="$2" -v l="$3" -v a="$app_rps" -v g="$ngx_rps" -v b="$4" \
		'BEGIN { printf "| %s | %d | %.2f ms | %.2f | %.2f | %d |\n", n, r, l, r / a, r / g, b }'
}
row "application, directly" "$app_rps" "$app_p99" "$app_bad"
row "nginx proxy_pass" "$ngx_rps" "$ngx_p99" "$ngx_bad"
row "xlimit-sidecar (each request charged)" "$sc_rps" "$sc_p99" "$sc_bad"
row "nginx + sidecar auth_request" "$ngxa_rps" "$ngxa_p99" "$ngxa_bad"
echo
awk -v s="$sc_rps" -v g="$ngx_rps" -v a="$app_rps" 'BEGIN {
	printf "The sidecar serves %.0f%% of nginx proxy_pass'"'"'s request rate and %.0f%% of the application'"'"'s reached directly.\n", 100 * s / g, 100 * s / a }'
