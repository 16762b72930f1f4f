/*
 * Unit tests of the sim VM backend (src/vm/sim.c) and the spec helpers
 * (src/vm/vmspec.c): power operations and their state checks, devices,
 * statistics, the canned agent answers, suspend images, re-attach from the
 * state files a previous xapid left, live migration between two processes,
 * and the spec's JSON round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "vm/backend.h"
#include "vm/vmspec.h"

static const struct vm_backend_ops *be = &vm_backend_sim;
static char dir[] = "/tmp/test_vm_sim.XXXXXX";

#define U1 "11111111-2222-4333-8444-555555555555"
#define U2 "11111111-2222-4333-8444-666666666666"

static struct vm_disk disk0 = {.id = "vbd0", .path = "/srv/d0.qcow2", .format = "qcow2",
			       .bootable = true, .userdevice = 0};
static struct vm_nic nic0 = {.id = "vif0", .mac = "02:00:00:00:00:01", .bridge = "xenbr0",
			     .mtu = 1500};

static struct vm_spec
spec(const char *uuid)
{
	struct vm_spec s = {.name = "sim-vm", .memory = 256 << 20, .vcpus = 2, .vcpus_max = 2,
			    .disks = &disk0, .ndisks = 1, .nics = &nic0, .nnics = 1,
			    .hotplug_slots = 4};

	snprintf(s.uuid, sizeof(s.uuid), "%s", uuid);
	return s;
}

static int
group_setup(void **state)
{
	char *err = NULL;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	return be->init(dir, NULL, &err);
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_power(void **state)
{
	struct vm_spec s = spec(U1);
	char *err = NULL;

	(void)state;
	assert_string_equal(be->name, "sim");
	assert_string_equal(be->accel(), "sim");
	assert_int_equal(be->attach(U1), VMR_HALTED);
	assert_int_equal(be->start(&s, &err), 0);
	assert_int_equal(be->attach(U1), VMR_RUNNING);
	assert_int_equal(be->start(&s, &err), -1);
	assert_non_null(strstr(err, "already running"));
	free(err);
	assert_int_equal(be->unpause(U1, &err), -1);
	free(err);
	assert_int_equal(be->pause(U1, &err), 0);
	assert_int_equal(be->attach(U1), VMR_PAUSED);
	assert_int_equal(be->pause(U1, &err), -1);
	free(err);
	assert_int_equal(be->unpause(U1, &err), 0);
	assert_int_equal(be->reboot(U1, false, &err), 0);
	assert_int_equal(be->attach(U1), VMR_RUNNING);
	assert_int_equal(be->shutdown(U1, 10, &err), 0);
	assert_int_equal(be->attach(U1), VMR_HALTED);
	assert_int_equal(be->shutdown(U1, 10, &err), -1);
	free(err);
	assert_int_equal(be->destroy(U1, &err), 0); /* halted: no-op */
	s.start_paused = true;
	assert_int_equal(be->start(&s, &err), 0);
	assert_int_equal(be->attach(U1), VMR_PAUSED);
	assert_int_equal(be->destroy(U1, &err), 0);
	assert_int_equal(be->attach(U1), VMR_HALTED);
	strcpy(s.uuid, "bad");
	assert_int_equal(be->start(&s, &err), -1);
	free(err);
}

static void
test_devices_stats_agent(void **state)
{
	struct vm_spec s = spec(U1);
	struct vm_disk d1 = {.id = "vbd1", .path = "/srv/d1.raw", .format = "raw", .userdevice = 1};
	struct vm_nic n1 = {.id = "vif1", .mac = "02:00:00:00:00:02", .bridge = "xenbr0"};
	struct vm_stats *st = calloc(1, sizeof(*st));
	char *err = NULL, *reply = NULL;

	(void)state;
	assert_int_equal(be->start(&s, &err), 0);
	assert_int_equal(be->disk_plug(U1, &d1, &err), 0);
	assert_int_equal(be->disk_plug(U1, &d1, &err), -1);
	free(err);
	assert_int_equal(be->nic_plug(U1, &n1, &err), 0);
	assert_int_equal(be->stats(U1, st, &err), 0);
	assert_int_equal(st->memory_actual, 256 << 20);
	assert_int_equal(st->ndisks, 2);
	assert_string_equal(st->disks[1].id, "vbd1");
	assert_int_equal(be->disk_unplug(U1, "vbd1", &err), 0);
	assert_int_equal(be->disk_unplug(U1, "vbd1", &err), -1);
	free(err);
	assert_int_equal(be->nic_unplug(U1, "vif1", &err), 0);
	assert_int_equal(be->nic_unplug(U1, "vif1", &err), -1);
	free(err);
	assert_int_equal(be->stats(U1, st, &err), 0);
	assert_int_equal(st->ndisks, 1);

	assert_int_equal(be->agent(U1, "{\"execute\": \"guest-ping\"}", &reply, 1, &err), 0);
	assert_string_equal(reply, "{}");
	free(reply);
	assert_int_equal(be->agent(U1, "{\"execute\": \"guest-sync\", \"arguments\": {\"id\": 7}}",
				   &reply, 1, &err),
			 0);
	assert_string_equal(reply, "7");
	free(reply);
	assert_int_equal(be->agent(U1, "{\"execute\": \"guest-exec\"}", &reply, 1, &err), -1);
	assert_non_null(strstr(err, "CommandNotFound"));
	free(err);
	assert_int_equal(be->agent(U1, "nonsense", &reply, 1, &err), -1);
	free(err);
	assert_int_equal(be->destroy(U1, &err), 0);
	assert_int_equal(be->stats(U1, st, &err), -1);
	free(err);
	free(st);
}

static void
test_suspend_resume(void **state)
{
	struct vm_spec s = spec(U1);
	char *err = NULL, img[128];

	(void)state;
	snprintf(img, sizeof(img), "%s/u1.suspend", dir);
	assert_int_equal(be->start(&s, &err), 0);
	assert_int_equal(be->suspend(U1, img, NULL, NULL, &err), 0);
	assert_int_equal(be->attach(U1), VMR_HALTED);
	assert_int_equal(access(img, R_OK), 0);
	assert_int_equal(be->resume(&s, img, &err), 0);
	assert_int_equal(be->attach(U1), VMR_RUNNING);
	assert_int_equal(be->destroy(U1, &err), 0);
	snprintf(img, sizeof(img), "%s/not-an-image", dir);
	FILE *f = fopen(img, "w");
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(be->resume(&s, img, &err), -1);
	assert_non_null(strstr(err, "not a sim suspend image"));
	free(err);
}

/* What a previous xapid left in DIR/vms-sim is picked up by attach. */
static void
test_attach_from_file(void **state)
{
	struct vm_spec s = spec(U2);
	char path[160];
	json_t *o = json_object();

	(void)state;
	json_object_set_new(o, "backend", json_string("sim"));
	json_object_set_new(o, "state", json_string("paused"));
	json_object_set_new(o, "spec", vm_spec_to_json(&s));
	snprintf(path, sizeof(path), "%s/vms-sim/%s.json", dir, U2);
	assert_int_equal(json_dump_file(o, path, 0), 0);
	json_decref(o);
	assert_int_equal(be->attach(U2), VMR_PAUSED);
	char *err = NULL;
	assert_int_equal(be->unpause(U2, &err), 0);
	assert_int_equal(be->destroy(U2, &err), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	/* a broken file is dropped */
	FILE *f = fopen(path, "w");
	fputs("{broken", f);
	fclose(f);
	assert_int_equal(be->attach(U2), VMR_HALTED);
	assert_int_not_equal(access(path, F_OK), 0);
}

/* The destination side of a sim migration, in a child process (one sim
 * backend per process) with its own state dir; exits 0 when it went as
 * expected: received, then committed (or aborted when abort is set). */
static int
sim_dest(int fd, int ctl, bool abort_it)
{
	char d2[] = "/tmp/test_vm_sim_dst.XXXXXX", *err = NULL, c = 0;
	struct vm_spec s = spec(U1);
	int rc = 1;

	/* the fork copied the source's table: forget its VM here (the file
	 * lives in the source's dir, not in d2) */
	if (!mkdtemp(d2) || be->init(d2, NULL, &err) < 0 || be->destroy(U1, &err) < 0)
		return 1;
	if (be->migrate_receive(&s, fd, &err) == 0 && be->attach(U1) == VMR_PAUSED &&
	    read(ctl, &c, 1) == 1 && be->migrate_end(U1, !abort_it, true, &err) == 0)
		rc = abort_it ? be->attach(U1) != VMR_HALTED : be->attach(U1) != VMR_RUNNING;
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d2);
	if (system(cmd) != 0)
		rc = 1;
	free(err);
	return rc;
}

static void
test_migrate(void **state)
{
	struct vm_spec s = spec(U1), lay;
	struct vm_migrate_stats st;
	char *err = NULL;

	(void)state;
	assert_int_equal(be->start(&s, &err), 0);
	assert_int_equal(be->layout(U1, &lay, &err), 0);
	assert_string_equal(lay.uuid, U1);
	vm_spec_clear(&lay);
	for (int round = 0; round < 2; round++) {
		bool abort_it = round == 0;
		int sv[2], cv[2], wst = 0;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cv), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(sv[0]);
			close(cv[0]);
			_exit(sim_dest(sv[1], cv[1], abort_it));
		}
		close(sv[1]);
		close(cv[1]);
		assert_int_equal(be->migrate_send(U1, sv[0], NULL, &st, &err), 0);
		assert_int_equal(be->attach(U1), VMR_PAUSED);
		assert_int_equal(be->migrate_send(U1, sv[0], NULL, &st, &err), -1);
		assert_non_null(strstr(err, "already being migrated"));
		free(err);
		err = NULL;
		assert_int_equal(write(cv[0], "x", 1), 1);
		waitpid(pid, &wst, 0);
		assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
		assert_int_equal(be->migrate_end(U1, !abort_it, true, &err), 0);
		assert_int_equal(be->attach(U1), abort_it ? VMR_RUNNING : VMR_HALTED);
		close(sv[0]);
		close(cv[0]);
	}
	/* a destination that hangs up: the VM stays */
	assert_int_equal(be->start(&s, &err), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(be->migrate_send(U1, sv[0], NULL, &st, &err), -1);
	free(err);
	err = NULL;
	close(sv[0]);
	assert_int_equal(be->attach(U1), VMR_RUNNING);
	assert_int_equal(be->migrate_end(U1, true, true, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(be->destroy(U1, &err), 0);
}

static void
test_spec_json(void **state)
{
	struct vm_disk disks[2] = {disk0, {.id = "vbd3", .cdrom = true, .readonly = true,
					   .userdevice = 3}};
	struct vm_pci pci = {.addr = "0000:44:00.0"};
	struct vm_spec s = spec(U1), back, copy;
	char *err = NULL;

	(void)state;
	s.disks = disks;
	s.ndisks = 2;
	s.pcis = &pci;
	s.npcis = 1;
	s.kernel = "/boot/vmlinux";
	s.cmdline = "console=ttyS0";
	s.vnc = true;
	json_t *j = vm_spec_to_json(&s);
	assert_int_equal(vm_spec_from_json(j, &back, &err), 0);
	json_decref(j);
	assert_string_equal(back.uuid, U1);
	assert_string_equal(back.name, "sim-vm");
	assert_int_equal(back.memory, 256 << 20);
	assert_int_equal(back.ndisks, 2);
	assert_null(back.disks[1].path);
	assert_true(back.disks[1].cdrom);
	assert_string_equal(back.nics[0].mac, "02:00:00:00:00:01");
	assert_string_equal(back.pcis[0].addr, "0000:44:00.0");
	assert_string_equal(back.kernel, "/boot/vmlinux");
	assert_null(back.initrd);
	assert_true(back.vnc);
	vm_spec_copy(&copy, &back);
	vm_spec_clear(&back);
	assert_string_equal(copy.disks[0].path, "/srv/d0.qcow2");
	vm_spec_clear(&copy);
	vm_spec_clear(NULL);

	j = json_pack("{s:s, s:[{s:i}]}", "uuid", U1, "disks", "id", 3);
	assert_int_equal(vm_spec_from_json(j, &back, &err), -1);
	free(err);
	json_decref(j);
	assert_true(vm_uuid_valid(U1));
	assert_false(vm_uuid_valid("11111111-2222-4333-8444-55555555555"));
	assert_false(vm_uuid_valid("11111111x2222-4333-8444-555555555555"));
	assert_false(vm_uuid_valid(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power),
		cmocka_unit_test(test_devices_stats_agent),
		cmocka_unit_test(test_suspend_resume),
		cmocka_unit_test(test_attach_from_file),
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_spec_json),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
