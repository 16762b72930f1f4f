/*
 * relay: copies bytes both ways between two connected stream sockets until
 * one side is done (a migration's NBD channel between QEMU's Unix socket and
 * the TCP stream to the other host).
 */
#ifndef XAPID_UTIL_RELAY_H
#define XAPID_UTIL_RELAY_H

/* Copies a->b and b->a until either side ends or fails (the other side then
 * gets shutdown(SHUT_RDWR)), or until stop_fd (if >= 0) becomes readable.
 * Blocks; closes neither fd. Returns the bytes copied a->b. */
long long relay_run(int a, int b, int stop_fd);

#endif
