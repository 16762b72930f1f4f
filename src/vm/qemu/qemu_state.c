/*
 * qemu_state: the files a VM leaves in DIR/vms/<uuid>/ so that a restarted
 * xapid can find its QEMU again: state.json (the spec as now, with
 * hot-plugged devices, the root port of every device, the taps, the pid and
 * its start time) and pid ("<pid> <starttime>"). Written atomically
 * (temporary file + rename). Also the clean-up once a QEMU is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"
#include "vm/vmspec.h"

static char *
qemu_file(const struct qemu_vm *vm, const char *name)
{
	return xasprintf("%s/%s", vm->dir, name);
}

void
qemu_cleanup(struct qemu_vm *vm)
{
	static const char *const files[] = {
	    "pid",      "state.json", "qmp.sock",     "qga.sock",
	    "vnc.sock", "nbd.sock",   "tls/keys.psk", "tls"};

	for (size_t i = 0; vm->taps && i < vm->spec.nnics; i++)
		if (vm->taps[i][0])
			qemu_tap_delete(vm->taps[i]);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p = qemu_file(vm, files[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
		free(p);
	}
	for (size_t i = 0; i < vm->spec.ndisks; i++)
		qemu_reset_drop(vm, &vm->spec.disks[i]);
}

int
qemu_save_state(struct qemu_vm *vm, char **err)
{
	json_t *o = json_object(), *dp = json_array(), *np = json_array(), *taps = json_array();
	json_t *pp = json_array();
	char *path = qemu_file(vm, "state.json"), *tmp = xasprintf("%s.tmp", path);
	int rc = 0;

	for (size_t i = 0; i < vm->spec.ndisks; i++)
		json_array_append_new(dp, json_integer(vm->disk_port[i]));
	for (size_t i = 0; i < vm->spec.nnics; i++) {
		json_array_append_new(np, json_integer(vm->nic_port[i]));
		json_array_append_new(taps, json_string(vm->taps[i]));
	}
	for (size_t i = 0; i < vm->spec.npcis; i++)
		json_array_append_new(pp, json_integer(vm->pci_port[i]));
	json_object_set_new(o, "spec", vm_spec_to_json(&vm->spec));
	json_object_set_new(o, "pci_port", pp);
	json_object_set_new(o, "pid", json_integer(vm->pid));
	json_object_set_new(o, "starttime", json_integer((json_int_t)vm->starttime));
	json_object_set_new(o, "nports", json_integer(vm->nports));
	json_object_set_new(o, "disk_port", dp);
	json_object_set_new(o, "nic_port", np);
	json_object_set_new(o, "taps", taps);
	json_object_set_new(o, "layout",
	                    json_integer(vm->legacy_layout ? 1 : QEMU_LAYOUT));
	if (json_dump_file(o, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0) {
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		rc = -1;
	}
	json_decref(o);
	free(tmp);
	free(path);
	if (rc == 0 && vm->pid > 0) {
		path = qemu_file(vm, "pid");
		FILE *f = fopen(path, "we");
		if (!f || fprintf(f, "%d %llu\n", (int)vm->pid, vm->starttime) < 0) {
			*err = xasprintf("cannot write %s: %s", path, strerror(errno));
			rc = -1;
		}
		if (f)
			fclose(f);
		free(path);
	}
	return rc;
}

struct qemu_vm *
qemu_load_state(const char *uuid)
{
	struct qemu_vm *vm = qemu_vm_new(uuid);
	char *path = qemu_file(vm, "state.json");
	json_t *o = json_load_file(path, 0, NULL);
	json_t *dp = json_object_get(o, "disk_port"), *np = json_object_get(o, "nic_port");
	json_t *taps = json_object_get(o, "taps"), *pp = json_object_get(o, "pci_port");

	free(path);
	if (!o || vm_spec_from_json(json_object_get(o, "spec"), &vm->spec, NULL) < 0 ||
	    strcmp(vm->spec.uuid, uuid) != 0 || json_array_size(dp) != vm->spec.ndisks ||
	    json_array_size(np) != vm->spec.nnics || json_array_size(taps) != vm->spec.nnics ||
	    json_array_size(pp) != vm->spec.npcis) {
		json_decref(o);
		qemu_vm_unref(vm);
		return NULL;
	}
	vm->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
	vm->starttime = (unsigned long long)json_integer_value(json_object_get(o, "starttime"));
	vm->nports = (int)json_integer_value(json_object_get(o, "nports"));
	json_t *layout = json_object_get(o, "layout");
	vm->legacy_layout = layout
	                        ? json_integer_value(layout) < QEMU_LAYOUT
	                        : !qemu_cmdline_has(vm->pid, "pcie-pci-bridge");
	vm->disk_port = xcalloc(vm->spec.ndisks + 1, sizeof(int));
	vm->nic_port = xcalloc(vm->spec.nnics + 1, sizeof(int));
	vm->taps = xcalloc(vm->spec.nnics + 1, sizeof(*vm->taps));
	vm->pci_port = xcalloc(vm->spec.npcis + 1, sizeof(int));
	for (size_t i = 0; i < vm->spec.npcis; i++)
		vm->pci_port[i] = (int)json_integer_value(json_array_get(pp, i));
	for (size_t i = 0; i < vm->spec.ndisks; i++)
		vm->disk_port[i] = (int)json_integer_value(json_array_get(dp, i));
	for (size_t i = 0; i < vm->spec.nnics; i++) {
		vm->nic_port[i] = (int)json_integer_value(json_array_get(np, i));
		snprintf(vm->taps[i], QEMU_TAPNAME, "%s",
			 json_string_value(json_array_get(taps, i)) ?: "");
	}
	json_decref(o);
	return vm;
}
