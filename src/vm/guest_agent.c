/* guest_agent: what the guest agent tells (VM_guest_metrics: OS, addresses,
 * drivers) and what it is asked to do (VIF.configure_ipv4). */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/vm_int.h"

#define GA_PERIOD_S 2

/* A string map built up before it goes into a row. */
struct ga_map {
	char **kv;
	size_t n;
};

static void
ga_map_add(struct ga_map *m, const char *k, const char *v)
{
	m->kv = xrealloc(m->kv, (m->n + 1) * 2 * sizeof(char *));
	m->kv[2 * m->n] = xstrdup(k);
	m->kv[2 * m->n + 1] = xstrdup(v);
	m->n++;
}

static struct dm_coll *
ga_map_take(struct ga_map *m)
{
	if (!m->n) {
		free(m->kv);
		return NULL;
	}
	struct dm_coll *c = dmc_new(m->n);
	for (size_t i = 0; i < 2 * m->n; i++)
		c->v[i].s = m->kv[i];
	free(m->kv);
	m->kv = NULL;
	m->n = 0;
	return c;
}

static void
ga_map_free(struct ga_map *m)
{
	for (size_t i = 0; i < 2 * m->n; i++)
		free(m->kv[i]);
	free(m->kv);
	m->kv = NULL;
	m->n = 0;
}

/* Runs an agent command; the "return" member, or NULL. */
static json_t *
ga_call(const char *uuid, const char *cmd)
{
	char *reply = NULL, *err = NULL;
	json_t *ret = NULL;
	if (!vm_cfg.backend->agent ||
	    vm_cfg.backend->agent(uuid, cmd, &reply, 5, &err) < 0) {
		free(err);
		return NULL;
	}
	json_t *j = json_loads(reply, 0, NULL);
	free(reply);
	if (j && json_object_get(j, "return"))
		ret = json_incref(json_object_get(j, "return"));
	else if (j && !json_object_get(j, "error"))
		ret = json_incref(j);
	json_decref(j);
	return ret;
}

/* Asks the guest to give the interface with this MAC the address addr
 * ("a.b.c.d/len"), and gw as default route when not empty. 0 or -1. */
static int
ga_apply_ipv4(const char *uuid, const char *mac, const char *addr, const char *gw)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\","
		 "\"arg\":[\"-c\",\"for i in /sys/class/net/*; do "
		 "[ \\\"$(cat $i/address)\\\" = \\\"%s\\\" ] && d=${i##*/}; done; "
		 "ip addr flush dev $d; ip addr add %s dev $d && ip link set $d up%s%s\"]}}",
		 mac, addr, *gw ? " && ip route replace default via " : "", gw);
	json_t *r = ga_call(uuid, cmd);
	json_decref(r);
	return r ? 0 : -1;
}

/* ---- static addresses across guest reboots ----
 * xapi keeps a VIF's static IPv4 configuration in the VIF
 * (ipv4_configuration_mode/addresses/gateway) and the guest's tools apply it
 * whenever they start. Here: each time the agent of a VM comes up (first
 * answer after a silence: a boot, a reboot, a resume, a xapid restart), a
 * configured address the guest does not have is applied once more. */
struct ga_session {
	char uuid[37];
	bool up;      /* the agent answered at the last poll */
	bool applied; /* the configuration was checked in this session */
	bool seen;    /* polled in this round (others are forgotten) */
	struct ga_session *next;
};

static struct ga_session *ga_sessions; /* the poller thread's only */

static struct ga_session *
ga_session(const char *uuid)
{
	struct ga_session *g;
	for (g = ga_sessions; g; g = g->next)
		if (strcmp(g->uuid, uuid) == 0)
			break;
	if (!g) {
		g = xcalloc(1, sizeof(*g));
		snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
		g->next = ga_sessions;
		ga_sessions = g;
	}
	g->seen = true;
	return g;
}

/* Forgets the VMs not polled in this round. */
static void
ga_sessions_prune(void)
{
	for (struct ga_session **p = &ga_sessions; *p;) {
		struct ga_session *g = *p;
		if (!g->seen) {
			*p = g->next;
			free(g);
		} else {
			g->seen = false;
			p = &g->next;
		}
	}
}

/* True when the agent's interface list gives the NIC with this MAC the
 * address ip (without its prefix length). */
static bool
ga_has_ipv4(json_t *ifs, const char *mac, const char *ip)
{
	size_t i, j;
	json_t *iface, *a;
	json_array_foreach(ifs, i, iface) {
		const char *m = json_string_value(json_object_get(iface, "hardware-address"));
		if (!m || strcasecmp(m, mac) != 0)
			continue;
		json_array_foreach(json_object_get(iface, "ip-addresses"), j, a) {
			const char *x = json_string_value(json_object_get(a, "ip-address"));
			if (x && strcmp(x, ip) == 0)
				return true;
		}
	}
	return false;
}

/* Re-applies the static configurations of the VM's VIFs the guest lost. */
static void
ga_reapply_ipv4(const char *ref, const char *uuid, json_t *ifs)
{
	struct cfg {
		char *mac, *addr, *gw;
	} *cfgs = NULL;
	size_t n = 0;
	db_rdlock();
	struct db_row *vm = db_get(DMC_VM, ref);
	const struct dm_coll *vifs = vm ? vm->f[DMF_VM_VIFs].c : NULL;
	for (size_t i = 0; vifs && i < vifs->n; i++) {
		struct db_row *v = db_get(DMC_VIF, vifs->v[i].s);
		const struct dm_coll *a = v ? v->f[DMF_VIF_ipv4_addresses].c : NULL;
		if (!v || strcmp(v->f[DMF_VIF_ipv4_configuration_mode].s, "Static") != 0 ||
		    !a || !a->n)
			continue;
		cfgs = xrealloc(cfgs, (n + 1) * sizeof(*cfgs));
		cfgs[n].mac = xstrdup(v->f[DMF_VIF_MAC].s);
		cfgs[n].addr = xstrdup(a->v[0].s);
		cfgs[n].gw = xstrdup(v->f[DMF_VIF_ipv4_gateway].s);
		n++;
	}
	db_unlock();
	for (size_t i = 0; i < n; i++) {
		char ip[64];
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(cfgs[i].addr, "/"), cfgs[i].addr);
		if (!ga_has_ipv4(ifs, cfgs[i].mac, ip)) {
			int rc = ga_apply_ipv4(uuid, cfgs[i].mac, cfgs[i].addr, cfgs[i].gw);
			log_info("vm", "VM %s: static address %s of VIF %s %s", uuid,
				 cfgs[i].addr, cfgs[i].mac,
				 rc == 0 ? "applied again" : "could not be applied again");
		}
		free(cfgs[i].mac);
		free(cfgs[i].addr);
		free(cfgs[i].gw);
	}
	free(cfgs);
}

/* The VIF device of the guest interface with this MAC, or NULL. */
static const char *
ga_vif_device(const struct db_row *vm, const char *mac)
{
	const struct dm_coll *vifs = vm->f[DMF_VM_VIFs].c;
	for (size_t i = 0; vifs && i < vifs->n; i++) {
		struct db_row *v = db_get(DMC_VIF, vifs->v[i].s);
		if (v && strcasecmp(v->f[DMF_VIF_MAC].s, mac) == 0)
			return v->f[DMF_VIF_device].s;
	}
	return NULL;
}

/* Reads one VM's agent and records what it says. */
static void
ga_poll_vm(const char *ref, const char *uuid)
{
	json_t *os = ga_call(uuid, "{\"execute\":\"guest-get-osinfo\"}");
	json_t *ifs = ga_call(uuid, "{\"execute\":\"guest-network-get-interfaces\"}");
	json_t *info = ga_call(uuid, "{\"execute\":\"guest-info\"}");
	struct ga_session *sess = ga_session(uuid);
	if (!os && !ifs && !info) {
		sess->up = false;
		return;
	}
	if (!sess->up)
		sess->applied = false; /* the agent (re)started: a new session */
	sess->up = true;
	if (!sess->applied && ifs) {
		ga_reapply_ipv4(ref, uuid, ifs);
		sess->applied = true;
	}
	struct ga_map osv = {0}, nets = {0}, drv = {0}, other = {0};
	const char *k;
	json_t *v;
	json_object_foreach(os, k, v) {
		if (!json_is_string(v))
			continue;
		const char *key = strcmp(k, "pretty-name") == 0 ? "name"
				  : strcmp(k, "kernel-release") == 0 ? "uname"
				  : strcmp(k, "id") == 0 ? "distro"
				  : k;
		ga_map_add(&osv, key, json_string_value(v));
	}
	const char *ver = json_string_value(json_object_get(info, "version"));
	if (ver) {
		ga_map_add(&drv, "major", ver);
		ga_map_add(&drv, "micro", "0");
		ga_map_add(&drv, "minor", "0");
		ga_map_add(&drv, "qemu-guest-agent", ver);
	}
	ga_map_add(&other, "feature-static-ip-setting", "1");
	ga_map_add(&other, "has-vendor-device", "0");
	ga_map_add(&other, "platform-feature-multiprocessor-suspend", "1");

	db_rdlock();
	struct db_row *vm = db_get(DMC_VM, ref);
	size_t i;
	json_t *iface;
	json_array_foreach(ifs, i, iface) {
		const char *mac = json_string_value(json_object_get(iface, "hardware-address"));
		const char *dev = vm && mac ? ga_vif_device(vm, mac) : NULL;
		if (!dev)
			continue;
		size_t j, n4 = 0, n6 = 0;
		json_t *a;
		json_array_foreach(json_object_get(iface, "ip-addresses"), j, a) {
			const char *ip = json_string_value(json_object_get(a, "ip-address"));
			const char *type = json_string_value(json_object_get(a, "ip-address-type"));
			char key[64];
			if (!ip || !type)
				continue;
			if (strcmp(type, "ipv4") == 0) {
				if (n4 == 0) {
					snprintf(key, sizeof(key), "%s/ip", dev);
					ga_map_add(&nets, key, ip);
				}
				snprintf(key, sizeof(key), "%s/ipv4/%zu", dev, n4++);
				ga_map_add(&nets, key, ip);
			} else {
				snprintf(key, sizeof(key), "%s/ipv6/%zu", dev, n6++);
				ga_map_add(&nets, key, ip);
			}
		}
	}
	char *gm_ref = vm ? xstrdup(vm->f[DMF_VM_guest_metrics].s) : NULL;
	db_unlock();
	/* a call that timed out (a busy guest) keeps what the last one said */
	bool have_os = os, have_ifs = ifs, have_info = info;
	json_decref(os);
	json_decref(ifs);
	json_decref(info);
	if (!gm_ref)
		goto out;

	struct db_txn *t = db_txn_begin();
	struct db_row *g = db_txn_edit(t, DMC_VM_guest_metrics, gm_ref);
	if (!g) {
		struct db_row *row = db_txn_edit(t, DMC_VM, ref);
		if (!row) {
			db_txn_abort(t);
			goto out;
		}
		g = db_txn_create(t, DMC_VM_guest_metrics, NULL, NULL);
		db_txn_set(t, row, DMF_VM_guest_metrics, (union dm_val){.s = xstrdup(g->ref)});
	}
	if (have_os)
		db_txn_set(t, g, DMF_VM_guest_metrics_os_version,
			   (union dm_val){.c = ga_map_take(&osv)});
	if (have_ifs)
		db_txn_set(t, g, DMF_VM_guest_metrics_networks,
			   (union dm_val){.c = ga_map_take(&nets)});
	if (have_info)
		db_txn_set(t, g, DMF_VM_guest_metrics_PV_drivers_version,
			   (union dm_val){.c = ga_map_take(&drv)});
	db_txn_set(t, g, DMF_VM_guest_metrics_other, (union dm_val){.c = ga_map_take(&other)});
	db_txn_set(t, g, DMF_VM_guest_metrics_live, (union dm_val){.b = true});
	db_txn_set(t, g, DMF_VM_guest_metrics_PV_drivers_detected, (union dm_val){.b = true});
	db_txn_set(t, g, DMF_VM_guest_metrics_PV_drivers_up_to_date, (union dm_val){.b = true});
	db_txn_set(t, g, DMF_VM_guest_metrics_can_use_hotplug_vbd, (union dm_val){.s = xstrdup("yes")});
	db_txn_set(t, g, DMF_VM_guest_metrics_can_use_hotplug_vif, (union dm_val){.s = xstrdup("yes")});
	/* unchanged rows make no write: an idle guest costs the DB nothing */
	api_err_free(api_commit(t));
out:
	free(gm_ref);
	ga_map_free(&osv);
	ga_map_free(&nets);
	ga_map_free(&drv);
	ga_map_free(&other);
}

static void *
ga_main(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(GA_PERIOD_S);
		size_t n;
		db_rdlock();
		struct db_row **vms = db_list(DMC_VM, &n);
		char **refs = xcalloc(n + 1, sizeof(char *)), **uuids = xcalloc(n + 1, sizeof(char *));
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			struct db_row *r = vms[i];
			if (strcmp(r->f[DMF_VM_power_state].s, "Running") != 0 ||
			    strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) != 0 ||
			    r->f[DMF_VM_is_control_domain].b)
				continue;
			refs[k] = xstrdup(r->ref);
			uuids[k++] = xstrdup(r->f[DMF_VM_uuid].s);
		}
		free(vms);
		db_unlock();
		for (size_t i = 0; i < k; i++) {
			ga_poll_vm(refs[i], uuids[i]);
			free(refs[i]);
			free(uuids[i]);
		}
		free(refs);
		free(uuids);
		ga_sessions_prune();
	}
	return NULL;
}

/* VIF.configure_ipv4(self, mode, address, gateway) */
static struct api_err *
ga_configure_ipv4(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vif = args[0]->u.s, *mode = args[1]->u.s,
		   *addr = args[2]->u.s, *gw = args[3]->u.s;
	char *vm_uuid = NULL, *vm_ref = NULL, *mac = NULL;
	bool running = false, feature = false;
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	bool is_static = strcasecmp(mode, "Static") == 0;
	if (!is_static && strcasecmp(mode, "None") != 0)
		return api_error(XE_INVALID_VALUE, "mode", mode, NULL);
	if (is_static) {
		unsigned a, b, c, d, p;
		char tail;
		if (sscanf(addr, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &p, &tail) != 5 ||
		    a > 255 || b > 255 || c > 255 || d > 255 || p > 32)
			return api_error(XE_INVALID_IP_ADDRESS_SPECIFIED, "address", NULL);
		if (*gw && (sscanf(gw, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 ||
			    a > 255 || b > 255 || c > 255 || d > 255))
			return api_error(XE_INVALID_IP_ADDRESS_SPECIFIED, "gateway", NULL);
	}
	db_rdlock();
	struct db_row *v = db_get(DMC_VIF, vif);
	struct db_row *vm = v ? db_get(DMC_VM, v->f[DMF_VIF_VM].s) : NULL;
	if (!v) {
		err = api_error(XE_HANDLE_INVALID, "VIF", vif, NULL);
	} else if (vm) {
		vm_uuid = xstrdup(vm->f[DMF_VM_uuid].s);
		vm_ref = xstrdup(vm->ref);
		mac = xstrdup(v->f[DMF_VIF_MAC].s);
		running = strcmp(vm->f[DMF_VM_power_state].s, "Running") == 0;
		struct db_row *g = db_get(DMC_VM_guest_metrics, vm->f[DMF_VM_guest_metrics].s);
		const struct dm_coll *o = g ? g->f[DMF_VM_guest_metrics_other].c : NULL;
		for (size_t i = 0; o && i < o->n; i++)
			if (strcmp(o->v[2 * i].s, "feature-static-ip-setting") == 0 &&
			    strcmp(o->v[2 * i + 1].s, "1") == 0)
				feature = true;
	}
	db_unlock();
	if (!err && running && is_static && !feature)
		err = api_error(XE_VM_LACKS_FEATURE, vm_ref, NULL);
	if (!err && running && is_static) {
		/* the guest applies it now: find the interface by MAC */
		if (ga_apply_ipv4(vm_uuid, mac, addr, gw) < 0)
			err = api_internal("the guest agent could not apply the address");
	}
	if (!err) {
		struct db_txn *t = db_txn_begin();
		struct db_row *w = db_txn_edit(t, DMC_VIF, vif);
		if (w) {
			db_txn_set(t, w, DMF_VIF_ipv4_configuration_mode,
				   (union dm_val){.s = xstrdup(is_static ? "Static" : "None")});
			struct dm_coll *c = NULL;
			if (is_static) {
				c = dmc_new(1);
				c->v[0].s = xstrdup(addr);
			}
			db_txn_set(t, w, DMF_VIF_ipv4_addresses, (union dm_val){.c = c});
			db_txn_set(t, w, DMF_VIF_ipv4_gateway, (union dm_val){.s = xstrdup(gw)});
		}
		err = api_commit(t);
	}
	free(vm_uuid);
	free(vm_ref);
	free(mac);
	return err;
}

void
vm_guest_agent_start(void)
{
	pthread_t th;
	api_register("VIF.configure_ipv4", ga_configure_ipv4, 0);
	if (pthread_create(&th, NULL, ga_main, NULL) == 0)
		pthread_detach(th);
}
