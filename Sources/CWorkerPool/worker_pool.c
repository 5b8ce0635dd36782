// A fixed pool of worker threads for the engine's parallel loops. Workers spin for a short while after each
// loop before they sleep on a condition variable: on a VM a futex wake-up takes ~60–80 µs, as long as a
// medium-sized op, so a loop that had to wake its worker ran mostly on the caller. Spinning workers pick up a
// new loop within a microsecond while a forward pass issues one op after another.
#define _GNU_SOURCE
#include "WorkerPool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WP_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define WP_PAUSE() __asm__ __volatile__("yield")
#else
#define WP_PAUSE() ((void)0)
#endif

// One loop, on its caller's stack. Workers only touch it while counted in `pool.active`, and the caller
// unpublishes it and waits for `active` to drain before returning, so it never outlives a reader.
typedef struct {
    wp_body body;
    void *context;
    long count;
    unsigned long sequence;
    _Atomic long next;
    _Atomic long done;
} wp_job;

static struct {
    pthread_once_t once;
    long workers;
    _Atomic(wp_job *) current;
    _Atomic unsigned long published;  // sequence of the latest loop
    _Atomic long active;
    _Atomic int busy;
    _Atomic long sleepers;
    unsigned long sequence;
    _Atomic long spinNanoseconds;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} pool = {
    .once = PTHREAD_ONCE_INIT,
    .spinNanoseconds = 2000000,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static long wp_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

// Claims and runs indices until none are left.
static void wp_drain(wp_job *job) {
    long i;
    while ((i = atomic_fetch_add(&job->next, 1)) < job->count) {
        job->body(job->context, i);
        atomic_fetch_add(&job->done, 1);
    }
}

static void *wp_worker(void *unused) {
    (void)unused;
    unsigned long seen = 0;
    long idleSince = wp_now();
    for (;;) {
        if (atomic_load(&pool.published) != seen) {
            atomic_fetch_add(&pool.active, 1);
            wp_job *job = atomic_load(&pool.current);  // safe to read: the caller now waits for us
            if (job && job->sequence != seen) {
                seen = job->sequence;
                wp_drain(job);
            } else {
                seen = atomic_load(&pool.published);  // that loop is over already
            }
            atomic_fetch_sub(&pool.active, 1);
            idleSince = wp_now();
            continue;
        }
        for (int s = 0; s < 16 && atomic_load_explicit(&pool.published, memory_order_relaxed) == seen; s++)
            WP_PAUSE();
        if (wp_now() - idleSince < atomic_load_explicit(&pool.spinNanoseconds, memory_order_relaxed)) continue;
        // Sleep. The caller publishes before it reads `sleepers`; we count ourselves before we re-read
        // `published` under the lock, so one of the two always sees the other.
        pthread_mutex_lock(&pool.lock);
        atomic_fetch_add(&pool.sleepers, 1);
        while (atomic_load(&pool.published) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        atomic_fetch_sub(&pool.sleepers, 1);
        pthread_mutex_unlock(&pool.lock);
        idleSince = wp_now();
    }
    return NULL;
}

static void wp_start(void) {
    const char *spin = getenv("GANKIT_POOL_SPIN_US");
    if (spin) wp_set_spin_microseconds(atol(spin));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long want = cpus > 1 ? cpus - 1 : 0;
    for (long w = 0; w < want; w++) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 8 << 20);  // engine kernels keep tiles on the stack
        if (pthread_create(&thread, &attr, wp_worker, NULL) == 0) pool.workers++;
        pthread_attr_destroy(&attr);
    }
}

long wp_worker_count(void) {
    pthread_once(&pool.once, wp_start);
    return pool.workers;
}

void wp_set_spin_microseconds(long microseconds) {
    atomic_store(&pool.spinNanoseconds, microseconds < 0 ? 0 : microseconds * 1000);
}

void wp_run(long count, wp_body body, void *context) {
    if (count <= 0) return;
    int idle = 0;
    if (count == 1 || wp_worker_count() == 0 || !atomic_compare_exchange_strong(&pool.busy, &idle, 1)) {
        for (long i = 0; i < count; i++) body(context, i);
        return;
    }
    wp_job job = {.body = body, .context = context, .count = count, .sequence = ++pool.sequence};
    atomic_init(&job.next, 0);
    atomic_init(&job.done, 0);
    atomic_store(&pool.current, &job);
    atomic_store(&pool.published, job.sequence);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    wp_drain(&job);
    while (atomic_load(&job.done) < count) WP_PAUSE();
    atomic_store(&pool.current, NULL);
    while (atomic_load(&pool.active) > 0) WP_PAUSE();
    atomic_store(&pool.busy, 0);
}
