#!/usr/bin/env bash
# Runs relay-bench's workloads through uring-relay (both engines) and, on the same load
# generator, peers, verification and CPU accounting, through other relays:
#   tcp:  haproxy (mode tcp), nginx (stream module), socat
#   smtp: Postfix as a store-and-forward relay to relay-bench's SMTP sink
# Each peer runs from a throwaway configuration in a temporary directory, pinned to CPU 0 like
# uring-relay (taskset), and is stopped at the end. Everything listens on 127.0.0.1 only.
#
#   Benchmarks/compare.sh [--quick] [--rounds N] [--json-dir DIR] [--svg DIR] [--only tcp|smtp] [relay-bench flags...]
#
# Other flags go to both relay-bench runs (e.g. --duration 1s, --workload rr, --syscalls).
# Postfix acknowledges a message once it is queued and delivers it later, so its messages/s
# are counted at the sink (delivered and verified), and its latency is to the queueing 250.
set -euo pipefail
cd "$(dirname "$0")/.."

json_dir="" svg_dir="" only="" pass=()
while (($#)); do
    case "$1" in
        --json-dir) json_dir="$2"; shift 2 ;;
        --svg) svg_dir="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        *) pass+=("$1"); shift ;;
    esac
done

scripts/install-bench-tools.sh --peers
source scripts/swift-env.sh
swift build -c release --product relay-bench >&2
swift build -c release --product uring-relay >&2
bench=.build/release/relay-bench

work=$(mktemp -d /tmp/relay-compare-XXXXXX)
chmod 755 "$work"  # Postfix daemons run as the postfix user and must reach their queue in here
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n "${postfix_dir:-}" ]]; then postfix -c "$postfix_dir" stop >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Each relayed connection holds two descriptors; 512 connections need more than the usual 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits (5 s at most) until something accepts on 127.0.0.1:$1.
wait_listening() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "compare: nothing listening on 127.0.0.1:$1 after 5 s ($2)" >&2
    return 1
}

externals=()
add_external() {  # name port pid
    externals+=(--external-relay "127.0.0.1:$2" --external-pid "$3" --external-name "$1")
}

run_tcp() {
    local peer haproxy_port nginx_port socat_port
    peer=$(free_port); haproxy_port=$(free_port); nginx_port=$(free_port); socat_port=$(free_port)
    externals=()

    cat >"$work/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
listen relay
    bind 127.0.0.1:$haproxy_port
    server peer 127.0.0.1:$peer
CFG
    taskset -c 0 haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
    pids+=($!); add_external haproxy "$haproxy_port" "$!"

    cat >"$work/nginx.conf" <<CFG
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
stream {
    server {
        listen 127.0.0.1:$nginx_port;
        proxy_pass 127.0.0.1:$peer;
        # Pass a client's FIN on and keep the other direction open, as uring-relay does;
        # without it nginx closes both sides at the first FIN, before the sink has read the end.
        proxy_half_close on;
    }
}
CFG
    taskset -c 0 nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" >"$work/nginx.log" 2>&1 &
    pids+=($!); add_external nginx "$nginx_port" "$!"

    taskset -c 0 socat "TCP-LISTEN:$socat_port,bind=127.0.0.1,reuseaddr,fork,backlog=1024" "TCP:127.0.0.1:$peer,nodelay" >"$work/socat.log" 2>&1 &
    pids+=($!); add_external socat "$socat_port" "$!"

    wait_listening "$haproxy_port" haproxy
    wait_listening "$nginx_port" nginx
    wait_listening "$socat_port" socat
    local out=()
    [[ -n $json_dir ]] && out+=(--json "$json_dir/compare-tcp.json")
    [[ -n $svg_dir ]] && out+=(--svg "$svg_dir")
    # The sweep is uring-relay's own figure; compared here are bulk and request/response.
    "$bench" tcp --workload bulk --workload rr "${pass[@]}" --peer-port "$peer" "${externals[@]}" "${out[@]}"
}

# A throwaway Postfix instance: queue, data and configuration in $work/postfix, listening on
# 127.0.0.1:$1 only, relaying everything from 127.0.0.0/8 to [127.0.0.1]:$2 (relay-bench's
# sink), no local delivery, no header rewriting (so the sink's digest check sees the message as
# sent, with Postfix's one Received field in front). Sets postfix_master to the master's pid.
start_postfix() {
    local port=$1 sink=$2
    postfix_dir=$work/postfix/etc
    mkdir -p "$postfix_dir" "$work/postfix/queue" "$work/postfix/data"
    cp /etc/postfix/master.cf "$postfix_dir/master.cf"
    : >"$postfix_dir/main.cf"
    chown -R postfix "$work/postfix/data"
    postconf -c "$postfix_dir" -e \
        "compatibility_level = 3.6" \
        "queue_directory = $work/postfix/queue" \
        "data_directory = $work/postfix/data" \
        "maillog_file = $work/postfix/maillog" "maillog_file_prefixes = $work" \
        "mail_owner = postfix" "setgid_group = postdrop" \
        "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
        "myhostname = postfix.bench" "mydestination =" \
        "local_transport = error:no local delivery" "alias_maps =" "alias_database =" \
        "relayhost = [127.0.0.1]:$sink" \
        "mynetworks = 127.0.0.0/8" "smtpd_relay_restrictions = permit_mynetworks, reject" \
        "local_header_rewrite_clients =" \
        "smtpd_tls_security_level = none" "smtp_tls_security_level = none" \
        "default_process_limit = 200" "smtp_destination_concurrency_limit = 64" \
        "message_size_limit = 52428800" \
        "max_idle = 3600s" "max_use = 1000000"
    # max_idle/max_use: otherwise dozens of idle smtpd and smtp processes exit together 100 s
    # after a Postfix run, on CPU 0, in the middle of the next relay's measurement.
    # The smtp listener moves to 127.0.0.1:$port (not chrooted: the queue is not under /var/spool).
    postconf -c "$postfix_dir" -M "$port/inet=$port inet n - n - - smtpd"
    postconf -c "$postfix_dir" -MX "smtp/inet" 2>/dev/null || true
    postconf -c "$postfix_dir" -M "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd"
    # No chroot: the queue is a temporary directory without the files a chroot jail needs.
    postconf -c "$postfix_dir" -F "*/*/chroot = n"
    taskset -c 0 postfix -c "$postfix_dir" start >&2
    local pidfile=$work/postfix/queue/pid/master.pid
    for _ in $(seq 100); do [[ -s $pidfile ]] && break; sleep 0.05; done
    if [[ ! -s $pidfile ]]; then
        echo "compare: Postfix did not start; its log:" >&2
        tail -20 "$work/postfix/maillog" >&2 || true
        return 1
    fi
    postfix_master=$(tr -d ' ' <"$pidfile")
}

run_smtp() {
    local sink postfix_port
    sink=$(free_port); postfix_port=$(free_port)
    start_postfix "$postfix_port" "$sink"
    wait_listening "$postfix_port" postfix || { tail -20 "$work/postfix/maillog" >&2; return 1; }
    externals=()
    add_external postfix "$postfix_port" "$postfix_master"
    local out=()
    [[ -n $json_dir ]] && out+=(--json "$json_dir/compare-smtp.json")
    [[ -n $svg_dir ]] && out+=(--svg "$svg_dir")
    "$bench" smtp --workload saturation --workload open "${pass[@]}" --sink-port "$sink" "${externals[@]}" "${out[@]}"
    postfix -c "$postfix_dir" stop >&2 || true
    postfix_dir=""
}

if [[ -n $json_dir ]]; then mkdir -p "$json_dir"; fi
if [[ -z $only || $only == tcp ]]; then run_tcp; fi
if [[ -z $only || $only == smtp ]]; then run_smtp; fi
