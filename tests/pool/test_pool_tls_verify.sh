#!/bin/sh
# Links between pool members verify the peer's certificate against the
# fingerprint the pool pinned for it (xapi's host_internal certificates and
# TLS verification). The pins are exchanged at pool-join and listed by
# xe certificate-list; a member whose certificate was swapped (an impostor
# on its address) is refused, with both fingerprints in the log, before the
# pool secret is sent; putting the pinned certificate back heals it. The same
# holds the other way: a slave refuses a master with a swapped certificate.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT

# fp FILE: the SHA-256 fingerprint of a PEM certificate, as xapi writes it
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }

# swap K: host K gets a new self-signed certificate (the pinned one is kept)
swap() {
	d=$T_DIR/h$1
	mv "$d/xapi-ssl.pem" "$d/xapi-ssl.pem.pinned"
	mv "$d/xapi-ssl.key" "$d/xapi-ssl.key.pinned"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/xapi-ssl.key" \
		-out "$d/xapi-ssl.pem" -days 30 -subj "/CN=impostor-h$1" 2>/dev/null
}

# restore K: the pinned certificate back in place
restore() {
	d=$T_DIR/h$1
	mv "$d/xapi-ssl.pem.pinned" "$d/xapi-ssl.pem"
	mv "$d/xapi-ssl.key.pinned" "$d/xapi-ssl.key"
}

# wait_log K TEXT: host K's log says TEXT (bounded wait)
wait_log() {
	n=0
	while [ $n -lt 600 ]; do
		grep -q "$2" "$T_DIR/h$1.out" && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

if ! pool_make 2 || ! pool_join 2 > /dev/null; then
	not_ok "a pool of two"
	done_testing
	exit 1
fi
ok "a pool of two"
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
fp1=$(fp "$T_DIR/h1/xapi-ssl.pem")
fp2=$(fp "$T_DIR/h2/xapi-ssl.pem")

# the pool database records both certificates (xe certificate-list)
check "xe certificate-list: one host_internal certificate per host" 2 \
	"$(pool_xe 1 certificate-list type=host_internal --minimal | tr ',' '\n' | grep -c .)"
check "h1's fingerprint is its certificate's SHA-256" "$fp1" \
	"$(pool_xe 1 certificate-list host="$u1" params=fingerprint --minimal)"
check "h2's fingerprint is its certificate's SHA-256" "$fp2" \
	"$(pool_xe 1 certificate-list host="$u2" params=fingerprint --minimal)"
check "... also as a slave sees it" "$fp2" \
	"$(pool_local 2 certificate-list host="$u2" params=fingerprint --minimal)"
check "the pool says TLS verification is on" true \
	"$(pool_xe 1 pool-param-get uuid="$(pool_xe 1 pool-list --minimal)" param-name=tls-verification-enabled)"
check "so does the host" true \
	"$(pool_xe 1 host-param-get uuid="$u2" param-name=tls-verification-enabled)"
# the pins each host keeps for when its database is not loaded yet
check "h1 pinned h2's certificate at the join" 1 \
	"$(grep -c "^$(pool_ip 2) $fp2\$" "$T_DIR/h1/pool-pins")"
check "h2 pinned h1's certificate at the join" 1 \
	"$(grep -c "^$(pool_ip 1) $fp1\$" "$T_DIR/h2/pool-pins")"
check "h2 logged pinning its master on first contact" 1 \
	"$(grep -c "no certificate pinned for $(pool_ip 1) yet" "$T_DIR/h2.out")"

# a routed call (master -> slave link) works while the certificates match
tpl=$(pool_xe 1 template-list name-label="Other install media" params=uuid --minimal)
vm=$(pool_xe 1 vm-install template="$tpl" new-name-label=tls-vm)
out=$(pool_xe 1 vm-start uuid="$vm" on="$u2" 2>&1)
check "vm-start on the slave (the master links to it)" "" "$out"
pool_xe 1 vm-shutdown uuid="$vm" --force > /dev/null 2>&1

# h2 comes back with a certificate of its own making
pool_stop 2
swap 2
pool_start 2 || not_ok "h2 starts with the swapped certificate"
if wait_log 2 "is not the one the pool pinned for it"; then
	ok "h2 logs that its certificate is not the pinned one"
else
	not_ok "h2 logs that its certificate is not the pinned one"
fi
out=$(pool_xe 1 vm-start uuid="$vm" on="$u2" 2>&1)
rc=$?
check "the master refuses its link to h2 (vm-start on=h2 fails)" 1 \
	"$([ $rc -ne 0 ] && echo 1 || echo 0)"
echo "$out" | sed "s/^/# /"
check "the VM did not start" halted \
	"$(pool_xe 1 vm-param-get uuid="$vm" param-name=power-state)"
if wait_log 1 "certificate of $(pool_ip 2) (host $u2) is not the one pinned in the pool database"; then
	ok "the master says why: h2's certificate is not the pinned one"
else
	not_ok "the master says why: h2's certificate is not the pinned one"
fi
check "... with both fingerprints" 1 \
	"$(grep "certificate of $(pool_ip 2)" "$T_DIR/h1.out" | grep "$fp2" |
		grep -c "$(fp "$T_DIR/h2/xapi-ssl.pem")" | sed 's/^[1-9][0-9]*$/1/')"
check "the pin is not replaced by the swapped host" "$fp2" \
	"$(pool_xe 1 certificate-list host="$u2" params=fingerprint --minimal)"

# the pinned certificate back: the links work again
pool_stop 2
restore 2
pool_start 2 || not_ok "h2 starts with its pinned certificate"
out=$(pool_xe 1 vm-start uuid="$vm" on="$u2" 2>&1)
check "with its certificate back, vm-start on h2 works" "" "$out"
check "the VM runs on h2" "$u2" \
	"$(pool_xe 1 vm-param-get uuid="$vm" param-name=resident-on)"
pool_xe 1 vm-shutdown uuid="$vm" --force > /dev/null 2>&1

# a member without its pins (a pool made before pins, a lost file): it pins
# its master on first contact, logs it, and then follows the database's pin
pool_stop 2
rm -f "$T_DIR/h2/pool-pins"
pool_start 2 || not_ok "h2 starts without its pins"
check "h2 logged pinning its master on first contact again" 1 \
	"$(grep -c "no certificate pinned for $(pool_ip 1) yet" "$T_DIR/h2.out")"
check "h2's pin of its master is back" 1 \
	"$(grep -c "^$(pool_ip 1) $fp1\$" "$T_DIR/h2/pool-pins")"

# the other way: the master with a swapped certificate; the slave refuses
# to follow it (and to send it the pool secret)
pool_stop 1
swap 1
pool_start 1 || not_ok "h1 starts with the swapped certificate"
if wait_log 2 "certificate of $(pool_ip 1) (host $u1) is not the one pinned"; then
	ok "the slave refuses the master's link and says why"
else
	not_ok "the slave refuses the master's link and says why"
fi
pool_stop 1
restore 1
pool_start 1 || not_ok "h1 starts with its pinned certificate"
pool_xe 1 network-create name-label=after-restore > /dev/null ||
	not_ok "a write on the master after the restore"
n=0
while [ $n -lt 600 ]; do
	got=$(pool_local 2 network-list name-label=after-restore --minimal)
	[ -n "$got" ] && break
	sleep 0.1
	n=$((n + 1))
done
check "the slave follows the master again" 1 "$([ -n "$got" ] && echo 1 || echo 0)"
done_testing
