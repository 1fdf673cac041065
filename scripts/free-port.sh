#!/usr/bin/env bash
# Prints a TCP port on 127.0.0.1 that nothing listens on right now, outside the kernel's ephemeral range: an outgoing
# connection (a pool's to PostgreSQL) takes its local port from that range and could take ours before the service
# binds it (CI saw a replica that never became ready this way).
read -r low high < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { low=32768; high=60999; }
if [ $((low - 10000)) -ge 2000 ]; then from=10000; span=$((low - 10000))
elif [ $((65535 - high)) -ge 2000 ]; then from=$((high + 1)); span=$((65535 - high))
else from=10000; span=55535; fi
for _ in $(seq 1 200); do
    port=$((from + (RANDOM * 32768 + RANDOM) % span))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$port"
        exit 0
    fi
done
echo "free-port.sh: no free port found" >&2
exit 1
