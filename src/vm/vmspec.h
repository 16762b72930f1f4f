/*
 * vmspec: helpers around struct vm_spec (backend.h) shared by the backends:
 * a deep copy, and a JSON form used for the per-VM state files that let a
 * restarted xapid re-attach (DIR/vms/<uuid>/state.json, DIR/vms-sim/<uuid>).
 * vm_spec_clear() itself is declared in backend.h.
 */
#ifndef XAPID_VM_VMSPEC_H
#define XAPID_VM_VMSPEC_H

#include <jansson.h>

#include "vm/backend.h"

/* Fills dst with a deep copy of src (dst's old contents are not freed). */
void vm_spec_copy(struct vm_spec *dst, const struct vm_spec *src);

/* Deep-copies a disk / NIC description (dst's old contents not freed). */
void vm_disk_copy(struct vm_disk *dst, const struct vm_disk *src);
void vm_nic_copy(struct vm_nic *dst, const struct vm_nic *src);
/* Frees what a disk / NIC owns. */
void vm_disk_clear(struct vm_disk *d);
void vm_nic_clear(struct vm_nic *n);

/* The JSON object of a spec (new reference). */
json_t *vm_spec_to_json(const struct vm_spec *s);
/* Reads a spec written by vm_spec_to_json into *s (zeroed first). Returns 0,
 * or -1 with *err (malloc'd) and *s cleared when the object is malformed. */
int vm_spec_from_json(const json_t *j, struct vm_spec *s, char **err);

/* True when u is a canonical lowercase-or-uppercase hex UUID (8-4-4-4-12). */
bool vm_uuid_valid(const char *u);

#endif
