/*
 * metrics: what the running VMs of this host are doing, as xcp-rrdd would
 * tell it (DESIGN §5).
 *
 * A sampler thread asks the backend for each VM Running (or Paused) on this
 * host every period (5 s by default; XAPID_METRICS_PERIOD=<seconds>
 * overrides it) for its counters (backend stats(): memory, CPU seconds,
 * per-disk QMP query-blockstats counters) and reads the byte counters of its
 * taps, turns two successive samples into rates and keeps the last
 * METRICS_RING values of each data source in memory (an RRD of one archive,
 * nothing on disk). The sources of a VM go when it stops running here.
 *
 * Data sources use xapi's names and units: cpu<N> (fraction), memory (B),
 * vbd_<dev>_{read,write} (B/s), vbd_<dev>_{read,write}_latency (μs),
 * vbd_<dev>_io_throughput_{read,write,total} (MiB/s),
 * vbd_<dev>_iops_{read,write,total} (requests/s), vbd_<dev>_iowait (s/s),
 * vbd_<dev>_avgqu_sz (requests), vif_<N>_{rx,tx} (B/s, the guest's view).
 *
 * VM_metrics.memory_actual is written to the DB only when it moves by more
 * than 1% (with last_updated): an idle host makes no commits.
 *
 * API: VM.get_data_sources, VM.query_data_source, VM.record_data_source and
 * VM.forget_data_source_archives (the last two accept and do nothing: every
 * source is always recorded).
 */
#ifndef XAPID_VM_METRICS_H
#define XAPID_VM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_RING 720

/* Cumulative counters of one disk (as QMP query-blockstats gives them). */
struct metrics_disk_ctr {
	uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops;
	uint64_t rd_total_ns, wr_total_ns;
};

/* What a disk did between two samples. */
struct metrics_disk_rates {
	double read_bps, write_bps;     /* B/s */
	double iops_read, iops_write;   /* requests/s */
	double read_latency_us;         /* mean time of a read done meanwhile, μs */
	double write_latency_us;
	double avgqu_sz;                /* requests in flight on average
					   (xsiostat: Δ(total time) / Δt) */
	double iowait;                  /* s of I/O wait per s (= avgqu_sz) */
};

/* Rates between samples prev and cur taken dt seconds apart. Returns 0, or
 * -1 (out zeroed) if dt <= 0 or a counter went backwards (a new QEMU, a
 * re-plugged disk): the caller starts again from cur. Pure. */
int metrics_disk_rates(const struct metrics_disk_ctr *prev,
		       const struct metrics_disk_ctr *cur, double dt,
		       struct metrics_disk_rates *out);

/* Mean utilisation of one of nvcpus vCPUs (0..1) from CPU seconds used by
 * all of them; -1 if dt <= 0 or the counter went backwards. Pure. */
double metrics_cpu_fraction(double prev_s, double cur_s, double dt,
			    int nvcpus);

/* Bytes/s from two readings of a byte counter; -1 as above. Pure. */
double metrics_counter_rate(uint64_t prev, uint64_t cur, double dt);

/* True if a new memory_actual is worth a DB write after old (differs by
 * more than 1%, or old is unset (<= 0)). Pure. */
bool metrics_memory_changed(int64_t old, int64_t cur);

/* A ring of the last cap values (a data source's archive). */
struct metrics_ring {
	float *v;
	unsigned cap, head, count; /* head: where the next value goes */
};

/* Appends a value (grows the ring up to METRICS_RING, then overwrites the
 * oldest). */
void metrics_ring_push(struct metrics_ring *r, double v);
/* The i-th newest value (0: the latest); NAN if there is none. */
double metrics_ring_get(const struct metrics_ring *r, unsigned i);
/* Mean of the newest n values (fewer if fewer are held); NAN if none. */
double metrics_ring_mean(const struct metrics_ring *r, unsigned n);
void metrics_ring_free(struct metrics_ring *r);

/* Starts the sampler thread and registers the VM data-source messages.
 * Call once from vm_lifecycle_init(), after vm_cfg is set. */
void metrics_start(void);

/* Bytes of memory held for the VMs sampled now, and their number (for the
 * benchmark and the log). */
size_t metrics_memory_used(size_t *nvms);

#endif
