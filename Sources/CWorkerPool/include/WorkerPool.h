#ifndef GANKIT_WORKER_POOL_H
#define GANKIT_WORKER_POOL_H

/// One parallel loop body: called once per index, from any pool thread or the caller.
typedef void (*wp_body)(void *context, long index);

/// Runs body(context, i) for every i in [0, count) on the caller and the pool's workers, returning when all
/// calls are done. Indices are claimed dynamically, so a late worker only takes what is left. Runs everything
/// on the caller when the pool is busy with another loop (a nested or concurrent call) or has no workers.
void wp_run(long count, wp_body body, void *context);

/// Worker threads the pool starts on first use: online processors − 1.
long wp_worker_count(void);

/// How long idle workers spin before they sleep, in microseconds (set before the first wp_run; default 2000).
void wp_set_spin_microseconds(long microseconds);

#endif
