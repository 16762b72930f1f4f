/* Unit tests of the VDI content stream (vdi_stream), the VHD writer and
 * reader (vhd.c, vhd_in.c) and the one-pass qcow2 writer (qcow2_write.c),
 * checked against qemu-img where an outside opinion helps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/qcow2_write.h"
#include "storage/vdi_stream.h"
#include "storage/vhd.h"
#include "util/xalloc.h"

/* qemu-img's view of t.qcow2 (10 MiB) over b.qcow2, as qemu 7.2 prints it */
static const char *chain_json =
	"[{\"filename\": \"t.qcow2\", \"format\": \"qcow2\", \"virtual-size\": 10485760},"
	" {\"filename\": \"b.qcow2\", \"format\": \"qcow2\", \"virtual-size\": 10485760}]";
static const char *map_json =
	"[{ \"start\": 0, \"length\": 524288, \"depth\": 1, \"present\": true, \"zero\": false, "
	"\"data\": true, \"offset\": 327680},"
	"{ \"start\": 524288, \"length\": 1048576, \"depth\": 0, \"present\": true, \"zero\": "
	"false, \"data\": true, \"offset\": 327680},"
	"{ \"start\": 1572864, \"length\": 524288, \"depth\": 1, \"present\": false, \"zero\": "
	"true, \"data\": false},"
	"{ \"start\": 2097152, \"length\": 65536, \"depth\": 1, \"present\": true, \"zero\": true, "
	"\"data\": false},"
	"{ \"start\": 2162688, \"length\": 8323072, \"depth\": 1, \"present\": false, \"zero\": "
	"true, \"data\": false}]";
/* the base: b.qcow2 alone */
static const char *bchain_json =
	"[{\"filename\": \"b.qcow2\", \"format\": \"qcow2\", \"virtual-size\": 10485760}]";
static const char *bmap_json =
	"[{ \"start\": 0, \"length\": 1048576, \"depth\": 0, \"present\": true, \"zero\": false, "
	"\"data\": true, \"offset\": 327680},"
	"{ \"start\": 1048576, \"length\": 9437184, \"depth\": 0, \"present\": false, \"zero\": "
	"true, \"data\": false}]";

static void
test_stream_json(void **state)
{
	const char *why = NULL;
	struct vdi_stream *s = vdi_stream_from_json(chain_json, map_json, NULL, NULL, &why);
	(void)state;
	assert_non_null(s);
	assert_int_equal(s->size, 10485760);
	assert_false(s->has_base);
	assert_int_equal(s->n, 3); /* the zero runs merge */
	assert_true(s->ext[0].data);
	assert_int_equal(s->ext[0].file, 1);
	assert_int_equal(s->ext[1].file, 0);
	assert_int_equal(s->ext[1].offset, 327680);
	assert_false(s->ext[2].data);
	assert_int_equal(vdi_stream_data_bytes(s), 1572864);
	assert_int_equal(vdi_stream_find(s, 600000), 1);
	vdi_stream_free(s);

	/* against the base: only the top layer's extents changed */
	s = vdi_stream_from_json(chain_json, map_json, bchain_json, bmap_json, &why);
	assert_non_null(s);
	assert_true(s->has_base);
	int64_t changed = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->ext[i].changed)
			changed += s->ext[i].length;
	assert_int_equal(changed, 1048576);
	assert_int_equal(vdi_stream_data_bytes(s), 1048576);
	vdi_stream_free(s);

	static const char *bad[] = {"", "{}", "[]", "[{\"start\": 0}]",
				    "[{ \"start\": 0, \"length\": 5, \"depth\": 0}]",
				    "[{ \"start\": 0, \"length\": 10485760, \"depth\": 7}]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_null(vdi_stream_from_json(chain_json, bad[i], NULL, NULL, &why));
		assert_non_null(why);
	}
}

/* A raw image file of size bytes with a pattern in some places. */
static char *
make_raw(int64_t size, uint8_t **content)
{
	char *path = xstrdup("/tmp/xapid-test-vhd-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t *c = xcalloc(1, (size_t)size);
	for (int64_t i = 0; i < size; i++)
		if ((i >= 70000 && i < 200000) || (i >= 3 * 1048576 && i < 3 * 1048576 + 4096) ||
		    i >= size - 1000)
			c[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(pwrite(fd, c, (size_t)size, 0), size);
	close(fd);
	*content = c;
	return path;
}

struct sink {
	uint8_t *disk;
	int64_t size;
	int blocks;
};

static int
sink_block(void *ctx, uint32_t block, const uint8_t *bitmap, const uint8_t *data,
	   uint32_t block_size)
{
	struct sink *k = ctx;
	for (uint32_t s = 0; s < block_size / 512; s++) {
		int64_t off = (int64_t)block * block_size + (int64_t)s * 512;
		if ((bitmap[s / 8] & (0x80 >> (s % 8))) && off < k->size)
			memcpy(k->disk + off, data + (size_t)s * 512,
			       off + 512 <= k->size ? 512 : (size_t)(k->size - off));
	}
	k->blocks++;
	return 0;
}

static uint8_t *
vhd_bytes(struct vhd_out *o, int64_t *len)
{
	*len = vhd_out_size(o);
	uint8_t *v = xmalloc((size_t)*len);
	int64_t at = 0;
	while (at < *len) { /* odd piece sizes on purpose */
		ssize_t n = vhd_out_read(o, at, (char *)v + at, 77777);
		assert_true(n > 0);
		at += n;
	}
	assert_int_equal(vhd_out_read(o, at, (char *)v, 10), 0);
	return v;
}

static int
feed_all(struct vhd_in *r, const uint8_t *v, int64_t len, size_t piece)
{
	for (int64_t at = 0; at < len; at += (int64_t)piece)
		if (vhd_in_feed(r, v + at, len - at < (int64_t)piece ? (size_t)(len - at) : piece) < 0)
			return -1;
	return vhd_in_finish(r);
}

static void
test_vhd_roundtrip(void **state)
{
	const int64_t size = 5 * 1048576 + 3 * 512;
	uint8_t *content, *v;
	int64_t len;
	char *path = make_raw(size, &content);
	struct vdi_stream *s = NULL;
	(void)state;
	struct api_err *err = vdi_stream_open_path(path, "raw", NULL, NULL, &s);
	assert_null(err);
	assert_int_equal(s->size, size);

	struct vhd_out *o = vhd_out_new(s, "4f1e6a3c-52d1-4a51-9d8a-0f7b3c2e1d00", NULL);
	v = vhd_bytes(o, &len);
	/* qemu-img reads it as the same disk */
	char vpath[64] = "/tmp/xapid-test-vhd-out-XXXXXX";
	int fd = mkstemp(vpath);
	assert_int_equal(write(fd, v, (size_t)len), len);
	close(fd);
	char *cmd = xasprintf("qemu-img compare -q -f vpc -F raw %s %s", vpath, path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	unlink(vpath);

	struct sink k = {xcalloc(1, (size_t)size), size, 0};
	struct vhd_in *r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 4096 + 3), 0);
	assert_int_equal(vhd_in_type(r), 3);
	assert_memory_equal(k.disk, content, (size_t)size);
	vhd_in_free(r);

	/* refused: too large for the VDI, a bad checksum, a missing or
	 * different footer, blocks overlapping the BAT */
	r = vhd_in_new(size - 1048576, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 65536), -1);
	assert_true(vhd_in_too_large(r));
	vhd_in_free(r);
	v[512 + 100] ^= 1;
	r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 65536), -1);
	assert_non_null(strstr(vhd_in_error(r), "checksum"));
	vhd_in_free(r);
	v[512 + 100] ^= 1;
	r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len - 512, 65536), -1);
	vhd_in_free(r);
	v[len - 1] ^= 1;
	r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 65536), -1);
	assert_non_null(strstr(vhd_in_error(r), "footer"));
	vhd_in_free(r);
	v[len - 1] ^= 1;
	v[1536] = 0; /* BAT entry 0 -> sector 0 */
	v[1537] = 0;
	v[1538] = 0;
	v[1539] = 1;
	r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 65536), -1);
	vhd_in_free(r);

	vhd_out_free(o);
	vdi_stream_free(s);
	free(v);
	free(k.disk);
	free(content);
	unlink(path);
	free(path);
}

/* A fixed VHD (raw data + footer) as qemu-img makes it reads as its disk;
 * a damaged footer, a cut file or a size that does not match are refused. */
static void
test_vhd_fixed(void **state)
{
	const int64_t size = 5 * 1048576 + 3 * 512;
	uint8_t *content;
	char *path = make_raw(size, &content);
	char vpath[64] = "/tmp/xapid-test-vhd-fixed-XXXXXX";
	(void)state;
	int fd = mkstemp(vpath);
	close(fd);
	char *cmd = xasprintf("qemu-img convert -q -f raw -O vpc -o "
	                      "subformat=fixed,force_size=on %s %s",
	                      path, vpath);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	fd = open(vpath, O_RDONLY);
	int64_t len = lseek(fd, 0, SEEK_END);
	uint8_t *v = xmalloc((size_t)len);
	assert_int_equal(pread(fd, v, (size_t)len, 0), len);
	close(fd);
	unlink(vpath);
	assert_int_equal(len, size + 512);

	struct sink k = {xcalloc(1, (size_t)size), size, 0};
	struct vhd_in *r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 4096 + 3), 0);
	assert_int_equal(vhd_in_type(r), 2);
	assert_int_equal(vhd_in_size(r), size);
	assert_memory_equal(k.disk, content, (size_t)size);
	assert_int_equal(k.blocks, 3);
	vhd_in_free(r);
	r = vhd_in_new(size, sink_block, &k); /* one piece */
	assert_int_equal(feed_all(r, v, len, (size_t)len), 0);
	vhd_in_free(r);

	r = vhd_in_new(size - 1048576, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 65536), -1);
	assert_true(vhd_in_too_large(r));
	vhd_in_free(r);
	v[len - 512 + 100] ^= 1;
	r = vhd_in_new(size, sink_block, &k);
	assert_int_equal(feed_all(r, v, len, 65536), -1);
	assert_non_null(strstr(vhd_in_error(r), "checksum"));
	vhd_in_free(r);
	v[len - 512 + 100] ^= 1;
	r = vhd_in_new(size, sink_block, &k); /* a sector short */
	assert_int_equal(vhd_in_feed(r, v, 4096), 0);
	assert_int_equal(vhd_in_feed(r, v + 4608, (size_t)(len - 4608)), 0);
	assert_int_equal(vhd_in_finish(r), -1);
	assert_non_null(strstr(vhd_in_error(r), "size"));
	vhd_in_free(r);
	r = vhd_in_new(size, sink_block, &k); /* no footer at all */
	assert_int_equal(feed_all(r, v, len - 512, 65536), -1);
	assert_non_null(strstr(vhd_in_error(r), "footer"));
	vhd_in_free(r);
	free(v);
	free(k.disk);
	free(content);
	unlink(path);
	free(path);
}

static void
test_qcow2_writer(void **state)
{
	const int64_t size = 600LL * 1024 * 1024; /* two L2 tables */
	char path[64] = "/tmp/xapid-test-qw-XXXXXX";
	(void)state;
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	struct qcow2w *w = qcow2w_create(path, size);
	assert_non_null(w);
	uint8_t *c = xmalloc(QCOW2W_CLUSTER);
	int64_t idx[] = {9000, 0, 3, 8191, 8192};
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		memset(c, (int)(i + 1), QCOW2W_CLUSTER);
		assert_int_equal(qcow2w_write(w, idx[i], c), 0);
	}
	assert_int_equal(qcow2w_write(w, 3, c), -1); /* once only */
	assert_int_equal(qcow2w_write(w, size / QCOW2W_CLUSTER, c), -1);
	assert_true(qcow2w_written(w, 8192));
	assert_false(qcow2w_written(w, 4));
	assert_int_equal(qcow2w_finish(w), 0);
	char *cmd = xasprintf("qemu-img check -q -f qcow2 %s", path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	cmd = xasprintf("qemu-io -f qcow2 -r -c 'read -P 1 %lld 64k' -c 'read -P 5 %lld 64k' "
			"-c 'read -P 0 65536 64k' %s | grep -q 'read 65536' && "
			"! qemu-io -f qcow2 -r -c 'read -P 1 %lld 64k' -c 'read -P 5 %lld 64k' "
			"-c 'read -P 0 65536 64k' %s | grep -q 'Pattern verification failed'",
			9000LL * QCOW2W_CLUSTER, 8192LL * QCOW2W_CLUSTER, path,
			9000LL * QCOW2W_CLUSTER, 8192LL * QCOW2W_CLUSTER, path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	unlink(path);
	free(c);
	assert_true(qcow2w_is_zero("\0\0\0", 3));
	assert_false(qcow2w_is_zero("\0\0\1", 3));
}

/* More L2 tables than the writer keeps in memory: evicted ones are read
 * back when a later cluster needs them. */
static void
test_qcow2_writer_many_tables(void **state)
{
	const int64_t size = 50LL << 30, per_table = 8192;
	char path[64] = "/tmp/xapid-test-qw-XXXXXX";
	(void)state;
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	struct qcow2w *w = qcow2w_create(path, size);
	assert_non_null(w);
	uint8_t *c = xmalloc(QCOW2W_CLUSTER);
	for (int64_t t = 0; t < 100; t++) {
		memset(c, (int)(t + 1), QCOW2W_CLUSTER);
		assert_int_equal(qcow2w_write(w, t * per_table + 5, c), 0);
	}
	memset(c, 0xee, QCOW2W_CLUSTER);
	assert_int_equal(qcow2w_write(w, 7, c), 0); /* table 0 again */
	assert_int_equal(qcow2w_write(w, 5, c), -1);
	assert_int_equal(qcow2w_finish(w), 0);
	char *cmd = xasprintf("qemu-img check -q -f qcow2 %s && qemu-io -f qcow2 -r "
			      "-c 'read -P 1 327680 64k' -c 'read -P 0xee 458752 64k' "
			      "-c 'read -P 100 %lld 64k' -c 'read -P 0 %lld 64k' %s "
			      "> %s.out && grep -c '^read 65536' %s.out | grep -qx 4 && "
			      "! grep -q 'verification failed' %s.out",
			      path, (99LL * per_table + 5) * QCOW2W_CLUSTER,
			      (99LL * per_table + 6) * QCOW2W_CLUSTER, path, path, path, path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	cmd = xasprintf("%s.out", path);
	unlink(cmd);
	free(cmd);
	unlink(path);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream_json),
	    cmocka_unit_test(test_vhd_roundtrip),
	    cmocka_unit_test(test_vhd_fixed),
	    cmocka_unit_test(test_qcow2_writer),
	    cmocka_unit_test(test_qcow2_writer_many_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
