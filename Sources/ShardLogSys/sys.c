// C calls Swift cannot make: system calls its Glibc module does not export, and
// SQLite's variadic sqlite3_config.
#define _GNU_SOURCE
#include <fcntl.h>
#include "ShardLogSys.h"

int shardlog_start_writeback(int fd) {
#if defined(__linux__)
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    return 0;
#endif
}

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int shardlog_set_thread_nice(int nice) {
#if defined(__linux__)
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
#else
    (void)nice;
    return 0;
#endif
}

#include <sqlite3.h>

int shardlog_sqlite_memory_statistics_off(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__linux__)
#include <limits.h>
#include <linux/futex.h>
#else
#include <pthread.h>
#endif

struct shardlog_event {
    _Atomic uint32_t sequence;
    _Atomic uint32_t waiters;
#if !defined(__linux__)
    pthread_mutex_t mutex;
    pthread_cond_t condition;
#endif
};

shardlog_event *shardlog_event_create(void) {
    shardlog_event *event = calloc(1, sizeof *event);
    if (event == NULL) return NULL;
    atomic_init(&event->sequence, 0);
    atomic_init(&event->waiters, 0);
#if !defined(__linux__)
    pthread_mutex_init(&event->mutex, NULL);
    pthread_cond_init(&event->condition, NULL);
#endif
    return event;
}

void shardlog_event_destroy(shardlog_event *event) {
#if !defined(__linux__)
    pthread_mutex_destroy(&event->mutex);
    pthread_cond_destroy(&event->condition);
#endif
    free(event);
}

uint32_t shardlog_event_sequence(shardlog_event *event) {
    return atomic_load(&event->sequence);
}

// Both sides are sequentially consistent: the waiter raises `waiters` and then reads the
// sequence, the signaller raises the sequence and then reads `waiters`, so at least one
// of them sees the other — the waiter does not sleep, or the signaller wakes it. The
// kernel compares the sequence with `seen` again before it puts the waiter to sleep.
void shardlog_event_wait(shardlog_event *event, uint32_t seen, int64_t timeout_ns) {
    if (timeout_ns <= 0) return;
    atomic_fetch_add(&event->waiters, 1);
    if (atomic_load(&event->sequence) == seen) {
#if defined(__linux__)
        struct timespec timeout = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
        syscall(SYS_futex, &event->sequence, FUTEX_WAIT_PRIVATE, seen, &timeout, NULL, 0);
#else
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t end = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + timeout_ns;
        struct timespec deadline = { .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
        pthread_mutex_lock(&event->mutex);
        if (atomic_load(&event->sequence) == seen) pthread_cond_timedwait(&event->condition, &event->mutex, &deadline);
        pthread_mutex_unlock(&event->mutex);
#endif
    }
    atomic_fetch_sub(&event->waiters, 1);
}

void shardlog_event_signal(shardlog_event *event) {
    atomic_fetch_add(&event->sequence, 1);
    if (atomic_load(&event->waiters) == 0) return;
#if defined(__linux__)
    syscall(SYS_futex, &event->sequence, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    pthread_mutex_lock(&event->mutex);
    pthread_cond_broadcast(&event->condition);
    pthread_mutex_unlock(&event->mutex);
#endif
}
