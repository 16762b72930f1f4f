/* vmspec: copy, free and JSON form of struct vm_spec. */
#include "vm/vmspec.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static char *
vm_strdup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
vm_disk_clear(struct vm_disk *d)
{
	XFREE(d->path);
	XFREE(d->format);
}

void
vm_nic_clear(struct vm_nic *n)
{
	XFREE(n->bridge);
}

void
vm_spec_clear(struct vm_spec *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->kernel);
	free(s->initrd);
	free(s->cmdline);
	free(s->boot_order);
	free(s->mig_psk);
	for (size_t i = 0; s->disks && i < s->ndisks; i++)
		vm_disk_clear(&s->disks[i]);
	free(s->disks);
	for (size_t i = 0; s->nics && i < s->nnics; i++)
		vm_nic_clear(&s->nics[i]);
	free(s->nics);
	free(s->pcis);
	memset(s, 0, sizeof(*s));
}

void
vm_disk_copy(struct vm_disk *dst, const struct vm_disk *src)
{
	*dst = *src;
	dst->path = vm_strdup0(src->path);
	dst->format = vm_strdup0(src->format);
}

void
vm_nic_copy(struct vm_nic *dst, const struct vm_nic *src)
{
	*dst = *src;
	dst->bridge = vm_strdup0(src->bridge);
}

void
vm_spec_copy(struct vm_spec *dst, const struct vm_spec *src)
{
	*dst = *src;
	dst->name = vm_strdup0(src->name);
	dst->kernel = vm_strdup0(src->kernel);
	dst->initrd = vm_strdup0(src->initrd);
	dst->cmdline = vm_strdup0(src->cmdline);
	dst->boot_order = vm_strdup0(src->boot_order);
	dst->mig_psk = vm_strdup0(src->mig_psk);
	dst->disks = xcalloc(src->ndisks + 1, sizeof(*dst->disks));
	for (size_t i = 0; i < src->ndisks; i++)
		vm_disk_copy(&dst->disks[i], &src->disks[i]);
	dst->nics = xcalloc(src->nnics + 1, sizeof(*dst->nics));
	for (size_t i = 0; i < src->nnics; i++)
		vm_nic_copy(&dst->nics[i], &src->nics[i]);
	dst->pcis = xcalloc(src->npcis + 1, sizeof(*dst->pcis));
	if (src->npcis)
		memcpy(dst->pcis, src->pcis, src->npcis * sizeof(*dst->pcis));
}

bool
vm_uuid_valid(const char *u)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t k = 0;

	if (!u || strlen(u) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (k < 4 && (int)i == dash[k]) {
			if (u[i] != '-')
				return false;
			k++;
		} else if (!isxdigit((unsigned char)u[i])) {
			return false;
		}
	}
	return true;
}

/* Sets key to a string, or to null when s is NULL. */
static void
vm_json_str(json_t *o, const char *key, const char *s)
{
	json_object_set_new(o, key, s ? json_string(s) : json_null());
}

json_t *
vm_spec_to_json(const struct vm_spec *s)
{
	json_t *o = json_object(), *a;

	json_object_set_new(o, "uuid", json_string(s->uuid));
	vm_json_str(o, "name", s->name);
	json_object_set_new(o, "memory", json_integer(s->memory));
	json_object_set_new(o, "vcpus_max", json_integer(s->vcpus_max));
	json_object_set_new(o, "vcpus", json_integer(s->vcpus));
	vm_json_str(o, "kernel", s->kernel);
	vm_json_str(o, "initrd", s->initrd);
	vm_json_str(o, "cmdline", s->cmdline);
	vm_json_str(o, "boot_order", s->boot_order);
	json_object_set_new(o, "start_paused", json_boolean(s->start_paused));
	json_object_set_new(o, "vnc", json_boolean(s->vnc));
	if (s->balloon)
		json_object_set_new(o, "balloon", json_true());
	json_object_set_new(o, "hotplug_slots", json_integer(s->hotplug_slots));
	if (s->nports)
		json_object_set_new(o, "nports", json_integer(s->nports));
	a = json_array();
	for (size_t i = 0; i < s->ndisks; i++) {
		const struct vm_disk *d = &s->disks[i];
		json_t *x = json_object();
		json_object_set_new(x, "id", json_string(d->id));
		vm_json_str(x, "path", d->path);
		vm_json_str(x, "format", d->format);
		json_object_set_new(x, "readonly", json_boolean(d->readonly));
		json_object_set_new(x, "cdrom", json_boolean(d->cdrom));
		json_object_set_new(x, "bootable", json_boolean(d->bootable));
		if (d->reset)
			json_object_set_new(x, "reset", json_true());
		json_object_set_new(x, "userdevice", json_integer(d->userdevice));
		if (d->port)
			json_object_set_new(x, "port", json_integer(d->port));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "disks", a);
	a = json_array();
	for (size_t i = 0; i < s->nnics; i++) {
		const struct vm_nic *n = &s->nics[i];
		json_t *x = json_object();
		json_object_set_new(x, "id", json_string(n->id));
		json_object_set_new(x, "mac", json_string(n->mac));
		vm_json_str(x, "bridge", n->bridge);
		json_object_set_new(x, "mtu", json_integer(n->mtu));
		if (n->port)
			json_object_set_new(x, "port", json_integer(n->port));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "nics", a);
	a = json_array();
	for (size_t i = 0; i < s->npcis; i++)
		json_array_append_new(a, json_string(s->pcis[i].addr));
	json_object_set_new(o, "pcis", a);
	return o;
}

/* A string member copied into dst (size n); false when missing/too long. */
static bool
vm_json_fixed(const json_t *o, const char *key, char *dst, size_t n)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v || strlen(v) >= n)
		return false;
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

/* An optional string member (NULL when absent or null). */
static char *
vm_json_dup(const json_t *o, const char *key)
{
	return vm_strdup0(json_string_value(json_object_get(o, key)));
}

static int
vm_json_int(const json_t *o, const char *key)
{
	return (int)json_integer_value(json_object_get(o, key));
}

int
vm_spec_from_json(const json_t *j, struct vm_spec *s, char **err)
{
	const json_t *a, *x;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(j) || !vm_json_fixed(j, "uuid", s->uuid, sizeof(s->uuid)))
		goto bad;
	s->name = vm_json_dup(j, "name");
	s->memory = json_integer_value(json_object_get(j, "memory"));
	s->vcpus_max = vm_json_int(j, "vcpus_max");
	s->vcpus = vm_json_int(j, "vcpus");
	s->kernel = vm_json_dup(j, "kernel");
	s->initrd = vm_json_dup(j, "initrd");
	s->cmdline = vm_json_dup(j, "cmdline");
	s->boot_order = vm_json_dup(j, "boot_order");
	s->start_paused = json_is_true(json_object_get(j, "start_paused"));
	s->vnc = json_is_true(json_object_get(j, "vnc"));
	s->balloon = json_is_true(json_object_get(j, "balloon"));
	s->hotplug_slots = vm_json_int(j, "hotplug_slots");
	s->nports = vm_json_int(j, "nports");
	a = json_object_get(j, "disks");
	if (a && !json_is_array(a))
		goto bad;
	s->disks = xcalloc(json_array_size(a) + 1, sizeof(*s->disks));
	json_array_foreach(a, i, x) {
		struct vm_disk *d = &s->disks[s->ndisks];
		if (!vm_json_fixed(x, "id", d->id, sizeof(d->id)))
			goto bad;
		d->path = vm_json_dup(x, "path");
		d->format = vm_json_dup(x, "format");
		d->readonly = json_is_true(json_object_get(x, "readonly"));
		d->cdrom = json_is_true(json_object_get(x, "cdrom"));
		d->bootable = json_is_true(json_object_get(x, "bootable"));
		d->reset = json_is_true(json_object_get(x, "reset"));
		d->userdevice = vm_json_int(x, "userdevice");
		d->port = vm_json_int(x, "port");
		s->ndisks++;
	}
	a = json_object_get(j, "nics");
	if (a && !json_is_array(a))
		goto bad;
	s->nics = xcalloc(json_array_size(a) + 1, sizeof(*s->nics));
	json_array_foreach(a, i, x) {
		struct vm_nic *n = &s->nics[s->nnics];
		if (!vm_json_fixed(x, "id", n->id, sizeof(n->id)) ||
		    !vm_json_fixed(x, "mac", n->mac, sizeof(n->mac)))
			goto bad;
		n->bridge = vm_json_dup(x, "bridge");
		n->mtu = vm_json_int(x, "mtu");
		n->port = vm_json_int(x, "port");
		s->nnics++;
	}
	a = json_object_get(j, "pcis");
	if (a && !json_is_array(a))
		goto bad;
	s->pcis = xcalloc(json_array_size(a) + 1, sizeof(*s->pcis));
	json_array_foreach(a, i, x) {
		const char *v = json_string_value(x);
		if (!v || strlen(v) >= sizeof(s->pcis[0].addr))
			goto bad;
		strcpy(s->pcis[s->npcis++].addr, v);
	}
	return 0;
bad:
	vm_spec_clear(s);
	if (err)
		*err = xstrdup("malformed VM spec in state file");
	return -1;
}
