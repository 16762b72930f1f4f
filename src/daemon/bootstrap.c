/* bootstrap: first-start records of a one-host pool and start-up checks. */
#include "daemon/bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool.h"
#include "storage/sr.h"
#include "vm/lifecycle.h"
#include "util/log.h"
#include "util/xalloc.h"

#define XAPID_PRODUCT_VERSION "8.2.1"
#define XAPID_BUILD "xapid-0.1"

static union dm_val
bs_str(const char *s)
{
	return (union dm_val){.s = xstrdup(s)};
}

static struct dm_coll *
bs_map(const char *const *kv, size_t npairs)
{
	struct dm_coll *c = dmc_new(npairs);
	for (size_t i = 0; i < 2 * npairs; i++)
		c->v[i].s = xstrdup(kv[i]);
	return c;
}

/* The uuid of this host, kept in the state dir like xapi's inventory. */
static char *
bs_host_uuid(const char *state_dir)
{
	char *path = xasprintf("%s/host-uuid", state_dir);
	char line[64] = "";
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
	}
	if (!line[0]) {
		char *u = db_new_uuid();
		snprintf(line, sizeof(line), "%s", u);
		free(u);
		f = fopen(path, "we");
		if (f) {
			fprintf(f, "%s\n", line);
			fclose(f);
		}
	}
	free(path);
	return xstrdup(line);
}

static long long
bs_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long v = 0;
	size_t n = strlen(key);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoll(line + n + 1, NULL, 10) * 1024;
	fclose(f);
	return v;
}

static void
bs_host_cpus(struct db_txn *t, const char *host)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	char model[256] = "unknown", vendor[64] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "model name", 10) == 0)
			snprintf(model, sizeof(model), "%s", colon + 2);
		else if (strncmp(line, "vendor_id", 9) == 0)
			snprintf(vendor, sizeof(vendor), "%s", colon + 2);
	}
	if (f)
		fclose(f);
	for (long i = 0; i < n; i++) {
		struct db_row *c = db_txn_create(t, DMC_host_cpu, NULL, NULL);
		db_txn_set(t, c, DMF_host_cpu_host, bs_str(host));
		db_txn_set(t, c, DMF_host_cpu_number, (union dm_val){.i = i});
		db_txn_set(t, c, DMF_host_cpu_modelname, bs_str(model));
		db_txn_set(t, c, DMF_host_cpu_vendor, bs_str(vendor));
	}
}

/* The test/demo guest (tools/build-guest.sh): a Debian kernel booted by
 * PVH with a busybox + qemu-guest-agent initramfs. */
static void
bs_guest_template(struct db_txn *t, struct db_row **vms, size_t n,
		  const char *cache)
{
	const char *name = "xapid test guest";
	for (size_t i = 0; i < n; i++)
		if (vms[i]->f[DMF_VM_is_a_template].b &&
		    strcmp(vms[i]->f[DMF_VM_name_label].s, name) == 0)
			return;
	struct db_row *v = db_txn_create(t, DMC_VM, NULL, NULL);
	db_txn_set(t, v, DMF_VM_name_label, bs_str(name));
	db_txn_set(t, v, DMF_VM_name_description,
		   bs_str("Small guest for tests and demos: boots in seconds under TCG; "
			  "runs qemu-guest-agent. Built by tools/build-guest.sh."));
	db_txn_set(t, v, DMF_VM_is_a_template, (union dm_val){.b = true});
	db_txn_set(t, v, DMF_VM_is_default_template, (union dm_val){.b = true});
	db_txn_set(t, v, DMF_VM_memory_static_max, (union dm_val){.i = 256LL << 20});
	db_txn_set(t, v, DMF_VM_memory_dynamic_max, (union dm_val){.i = 256LL << 20});
	db_txn_set(t, v, DMF_VM_memory_dynamic_min, (union dm_val){.i = 256LL << 20});
	db_txn_set(t, v, DMF_VM_memory_static_min, (union dm_val){.i = 128LL << 20});
	db_txn_set(t, v, DMF_VM_VCPUs_max, (union dm_val){.i = 1});
	db_txn_set(t, v, DMF_VM_VCPUs_at_startup, (union dm_val){.i = 1});
	db_txn_set(t, v, DMF_VM_PV_kernel, (union dm_val){.s = xasprintf("%s/vmlinux", cache)});
	db_txn_set(t, v, DMF_VM_PV_ramdisk,
		   (union dm_val){.s = xasprintf("%s/initramfs.cpio.gz", cache)});
	/* no_timer_check: under TCG on a loaded host the kernel's IO-APIC
	 * timer check can fail and hang the boot (seen in boot storms) */
	db_txn_set(t, v, DMF_VM_PV_args, bs_str("console=ttyS0 quiet no_timer_check"));
	db_txn_set(t, v, DMF_VM_domain_type, bs_str("pvh"));
	db_txn_set(t, v, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops("Halted", true)});
	static const char *const oc[] = {"install-methods", "",
					 "linux_template", "true"};
	db_txn_set(t, v, DMF_VM_other_config, (union dm_val){.c = bs_map(oc, 2)});
}

static void
bs_templates(struct db_txn *t, const char *guest_cache)
{
	static const char *const names[] = {"Other install media"};
	size_t n;
	struct db_row **vms = db_list(DMC_VM, &n);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		bool have = false;
		for (size_t i = 0; i < n; i++)
			if (vms[i]->f[DMF_VM_is_a_template].b &&
			    strcmp(vms[i]->f[DMF_VM_name_label].s, names[k]) == 0)
				have = true;
		if (have)
			continue;
		struct db_row *v = db_txn_create(t, DMC_VM, NULL, NULL);
		db_txn_set(t, v, DMF_VM_name_label, bs_str(names[k]));
		db_txn_set(t, v, DMF_VM_name_description,
			   bs_str("Template for a VM installed from media"));
		db_txn_set(t, v, DMF_VM_is_a_template, (union dm_val){.b = true});
		db_txn_set(t, v, DMF_VM_is_default_template, (union dm_val){.b = true});
		db_txn_set(t, v, DMF_VM_memory_static_max, (union dm_val){.i = 256LL << 20});
		db_txn_set(t, v, DMF_VM_memory_dynamic_max, (union dm_val){.i = 256LL << 20});
		db_txn_set(t, v, DMF_VM_memory_dynamic_min, (union dm_val){.i = 256LL << 20});
		db_txn_set(t, v, DMF_VM_memory_static_min, (union dm_val){.i = 128LL << 20});
		db_txn_set(t, v, DMF_VM_VCPUs_max, (union dm_val){.i = 1});
		db_txn_set(t, v, DMF_VM_VCPUs_at_startup, (union dm_val){.i = 1});
		db_txn_set(t, v, DMF_VM_HVM_boot_policy, bs_str("BIOS order"));
		static const char *const boot[] = {"order", "cdn"};
		db_txn_set(t, v, DMF_VM_HVM_boot_params, (union dm_val){.c = bs_map(boot, 1)});
		db_txn_set(t, v, DMF_VM_domain_type, bs_str("hvm"));
		db_txn_set(t, v, DMF_VM_allowed_operations,
			   (union dm_val){.c = vm_allowed_ops("Halted", true)});
	}
	bs_guest_template(t, vms, n, guest_cache);
	free(vms);
}

/* The pool-wide network of the management interface, as XenServer names
 * it, with this host's PIF on it. Its bridge is made when a VIF needs it. */
static void
bs_network(struct db_txn *t, const char *host_ref,
	   const struct bootstrap_config *cfg)
{
	struct db_row *n = db_txn_create(t, DMC_network, NULL, NULL);
	db_txn_set(t, n, DMF_network_name_label,
		   bs_str("Pool-wide network associated with eth0"));
	char *br = xasprintf("%s0", cfg->bridge_prefix ? cfg->bridge_prefix : "xenbr");
	db_txn_set(t, n, DMF_network_bridge, (union dm_val){.s = br});
	db_txn_set(t, n, DMF_network_MTU, (union dm_val){.i = 1500});
	struct db_row *p = db_txn_create(t, DMC_PIF, NULL, NULL);
	db_txn_set(t, p, DMF_PIF_device, bs_str("eth0"));
	db_txn_set(t, p, DMF_PIF_network, bs_str(n->ref));
	db_txn_set(t, p, DMF_PIF_host, bs_str(host_ref));
	db_txn_set(t, p, DMF_PIF_MTU, (union dm_val){.i = 1500});
	db_txn_set(t, p, DMF_PIF_VLAN, (union dm_val){.i = -1});
	db_txn_set(t, p, DMF_PIF_physical, (union dm_val){.b = true});
	db_txn_set(t, p, DMF_PIF_currently_attached, (union dm_val){.b = true});
	db_txn_set(t, p, DMF_PIF_management, (union dm_val){.b = true});
	db_txn_set(t, p, DMF_PIF_ip_configuration_mode, bs_str("Static"));
	db_txn_set(t, p, DMF_PIF_IP, bs_str(cfg->address));
}

char *
bootstrap_lookup(const struct bootstrap_config *cfg, char **err)
{
	char *uuid = bs_host_uuid(cfg->state_dir), *ref = NULL;
	db_rdlock();
	struct db_row *host = db_get_by_uuid(DMC_host, uuid);
	if (host)
		ref = xstrdup(host->ref);
	else
		*err = xasprintf("host %s is not in the database", uuid);
	db_unlock();
	free(uuid);
	return ref;
}

char *
bootstrap_run(const struct bootstrap_config *cfg, char **err)
{
	char *uuid = bs_host_uuid(cfg->state_dir);
	struct db_txn *t = db_txn_begin();
	struct db_row *host = db_get_by_uuid(DMC_host, uuid);
	char *host_ref, *new_pool = NULL;
	struct utsname un;
	uname(&un);

	if (!host) {
		log_info("bootstrap", "first start: creating host %s (%s)",
			 cfg->host_name, uuid);
		struct db_row *h = db_txn_create(t, DMC_host, NULL, uuid);
		host_ref = xstrdup(h->ref);
		db_txn_set(t, h, DMF_host_name_label, bs_str(cfg->host_name));
		db_txn_set(t, h, DMF_host_name_description, bs_str("Default install"));
		db_txn_set(t, h, DMF_host_hostname, bs_str(cfg->host_name));
		db_txn_set(t, h, DMF_host_API_version_major, (union dm_val){.i = DM_API_VERSION_MAJOR});
		db_txn_set(t, h, DMF_host_API_version_minor, (union dm_val){.i = DM_API_VERSION_MINOR});
		db_txn_set(t, h, DMF_host_API_version_vendor, bs_str("XenSource"));
		db_txn_set(t, h, DMF_host_enabled, (union dm_val){.b = true});

		struct db_row *m = db_txn_create(t, DMC_host_metrics, NULL, NULL);
		db_txn_set(t, h, DMF_host_metrics, bs_str(m->ref));
		bs_host_cpus(t, host_ref);

		struct db_row *dom0 = db_txn_create(t, DMC_VM, NULL, NULL);
		char *label = xasprintf("Control domain on host: %s", cfg->host_name);
		db_txn_set(t, dom0, DMF_VM_name_label, (union dm_val){.s = label});
		db_txn_set(t, dom0, DMF_VM_name_description, bs_str("The domain which manages physical devices and manages other domains"));
		db_txn_set(t, dom0, DMF_VM_is_control_domain, (union dm_val){.b = true});
		db_txn_set(t, dom0, DMF_VM_power_state, bs_str("Running"));
		db_txn_set(t, dom0, DMF_VM_resident_on, bs_str(host_ref));
		db_txn_set(t, dom0, DMF_VM_domid, (union dm_val){.i = 0});
		db_txn_set(t, dom0, DMF_VM_domain_type, bs_str("pv"));
		db_txn_set(t, h, DMF_host_control_domain, bs_str(dom0->ref));

		size_t npools;
		struct db_row **pools = db_list(DMC_pool, &npools);
		char *pool_ref = npools ? xstrdup(pools[0]->ref) : NULL;
		if (!npools) {
			struct db_row *p = db_txn_create(t, DMC_pool, NULL, NULL);
			db_txn_set(t, p, DMF_pool_master, bs_str(host_ref));
			pool_ref = xstrdup(p->ref);
			new_pool = xstrdup(p->ref);
		}
		free(pools);
		sr_bootstrap(t, host_ref, cfg->state_dir, pool_ref);
		bs_network(t, host_ref, cfg);
		free(pool_ref);
	} else {
		host_ref = xstrdup(host->ref);
	}
	/* facts that may change across restarts */
	struct db_row *h = db_txn_edit(t, DMC_host, host_ref);
	db_txn_set(t, h, DMF_host_address, bs_str(cfg->address));
	const char *sv[] = {"product_version", XAPID_PRODUCT_VERSION,
			    "product_version_text", XAPID_PRODUCT_VERSION,
			    "product_version_text_short", XAPID_PRODUCT_VERSION,
			    "platform_name", "XCP",
			    "product_brand", "xapid",
			    "build_number", XAPID_BUILD,
			    "hostname", cfg->host_name,
			    "date", __DATE__,
			    "xapi", "23.1",
			    "xapi_build", "23.1.0",
			    "linux", un.release};
	db_txn_set(t, h, DMF_host_software_version,
		   (union dm_val){.c = bs_map(sv, sizeof(sv) / sizeof(sv[0]) / 2)});
	struct db_row *m = db_txn_edit(t, DMC_host_metrics, h->f[DMF_host_metrics].s);
	if (m) {
		db_txn_set(t, m, DMF_host_metrics_memory_total,
			   (union dm_val){.i = bs_meminfo("MemTotal")});
		db_txn_set(t, m, DMF_host_metrics_live, (union dm_val){.b = true});
		db_txn_set(t, m, DMF_host_metrics_last_updated,
			   (union dm_val){.i = (int64_t)time(NULL)});
	}
	bs_templates(t, cfg->guest_cache ? cfg->guest_cache : "/var/cache/xapid/guest");
	pool_cert_publish(t, host_ref, new_pool);
	free(new_pool);
	free(uuid);
	if (db_txn_commit(t, err) < 0) {
		free(host_ref);
		return NULL;
	}
	return host_ref;
}
