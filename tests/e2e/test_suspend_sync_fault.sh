#!/bin/sh
# Regression: the final sync of a memory image on an nfs SR failing after
# the image was written (XAPID_FIST=memimg.sync) left the VM "Running"
# although its VM had been stopped. The image now reaches the SR before
# the VM stops for good: a failure there is a clear SR_BACKEND_FAILURE_1,
# the VM runs on (and can be suspended once the fault is gone), and no
# image VDI is left. (sim VMs; the qemu backend does the same around its
# QEMU: "cont" instead of quit.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nfs_lib.sh"

if ! nfs_available; then
	echo "1..0 # SKIP nfs-ganesha/rpcbind not installed (tools/install-deps.sh)"
	exit 0
fi
XAPID_EXTRA_ARGS="--vm-backend sim"
export XAPID_FIST=memimg.sync
start_xapid sf || { not_ok "xapid starts"; done_testing; exit 1; }
unset XAPID_FIST
nfs_start || { not_ok "ganesha starts"; done_testing; exit 1; }
xe() { "$XE" "$@"; }
SR=$(xe sr-create type=nfs name-label=nfs1 shared=true content-type=user \
	device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT)
check "an nfs SR" 0 $?
xe pool-param-set uuid=$(xe pool-list --minimal) suspend-image-SR=$SR
VM=$(xe vm-install template="Other install media" new-name-label=vm)
xe vm-start uuid=$VM
check_rc "vm-suspend fails when the image cannot be synced" 1 xe vm-suspend uuid=$VM
grep -q "SR_BACKEND_FAILURE_1" "$T_DIR/last.err" && grep -q "fault injected" "$T_DIR/last.err" &&
	ok "with SR_BACKEND_FAILURE_1 saying why" || not_ok "suspend error" "$(cat "$T_DIR/last.err")"
check "the VM still runs" running "$(xe vm-param-get uuid=$VM param-name=power-state)"
check "no suspend VDI" "<not in database>" "$(xe vm-param-get uuid=$VM param-name=suspend-VDI-uuid)"
check "no image VDI left on the SR" "" "$(xe vdi-list sr-uuid=$SR --minimal)"
check "nor an image file" "" "$(ls "$NFS_EXPORT/$SR" | grep '\.suspend$')"
check_rc "the VM still shuts down" 0 xe vm-shutdown uuid=$VM --force
check "halted" halted "$(xe vm-param-get uuid=$VM param-name=power-state)"
done_testing
