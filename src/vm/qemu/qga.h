/*
 * qga: client of the QEMU guest agent (qemu-ga) through the Unix socket of
 * its virtio-serial chardev (DIR/vms/<uuid>/qga.sock).
 *
 * The socket is always connectable while QEMU runs, whether or not an agent
 * runs in the guest, so qga_open() proves that one answers with the
 * guest-sync-delimited handshake (a 0xFF byte flushes the agent's parser;
 * the reply is preceded by 0xFF, everything before it is stale and
 * dropped). Every read is bounded by a deadline. QEMU serves one client at a
 * time on the chardev: keep a connection short and per VM.
 * Return codes are those of enum qmp_rc (qmp.h).
 */
#ifndef XAPID_VM_QEMU_QGA_H
#define XAPID_VM_QEMU_QGA_H

struct qga;

/* Connects to path and synchronises with the agent within timeout_ms.
 * Returns the connection, or NULL with *err ("guest agent not responding"
 * when nothing answers). */
struct qga *qga_open(const char *path, int timeout_ms, char **err);

/* Runs one agent command given as JSON text ({"execute": ..., "arguments":
 * ...}). On success returns QMP_OK and *reply: the JSON text of the
 * "return" value (malloc'd). An agent error gives QMP_EQEMU with *err
 * "<class>: <desc>". Commands that never answer on success (guest-shutdown,
 * guest-suspend-*) succeed with reply "{}" unless an error arrives within
 * min(timeout_ms, 1 s). */
int qga_command(struct qga *g, const char *json, char **reply, int timeout_ms, char **err);

/* Closes the connection. NULL-safe. */
void qga_close(struct qga *g);

#endif
