#ifndef SHARDLOG_SYS_H
#define SHARDLOG_SYS_H

/// Starts writeback of a file's dirty pages without waiting for it (Linux
/// `sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`, which Swift's Glibc module does
/// not export). A hint only: durability still needs `fsync`. Returns 0, or -1 with
/// `errno` set; elsewhere than Linux it does nothing and returns 0.
int shardlog_start_writeback(int fd);

/// Sets the calling thread's `nice` value (Linux `setpriority(PRIO_PROCESS, gettid(), nice)`):
/// higher is a lower priority. Returns 0, or -1 with `errno` set (raising the priority needs
/// privilege); elsewhere than Linux it does nothing and returns 0.
int shardlog_set_thread_nice(int nice);

/// Turns off SQLite's memory statistics for the process
/// (`sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)`, which Swift cannot call: it is variadic).
/// With them on, every allocation and free inside SQLite takes one process-wide mutex.
/// Only possible before SQLite is initialised (before the process's first connection):
/// returns SQLITE_OK, or SQLITE_MISUSE when it is too late (nothing changes then).
int shardlog_sqlite_memory_statistics_off(void);

#include <stdint.h>

/// An event count (ENG-030): a thread that waits reads `shardlog_event_sequence` before it
/// looks for work, then calls `shardlog_event_wait` with it, which returns at once when
/// the event was signalled since, and otherwise sleeps until a signal or the timeout.
/// `shardlog_event_signal` never waits: one atomic increment, and a wake-up (a futex on
/// Linux) only when a thread sleeps on the event. Spurious returns are allowed.
typedef struct shardlog_event shardlog_event;
/// A new event, or NULL when out of memory.
shardlog_event *shardlog_event_create(void);
void shardlog_event_destroy(shardlog_event *event);
uint32_t shardlog_event_sequence(shardlog_event *event);
/// Sleeps while the sequence is still `seen`, for at most `timeout_ns` nanoseconds.
void shardlog_event_wait(shardlog_event *event, uint32_t seen, int64_t timeout_ns);
void shardlog_event_signal(shardlog_event *event);

#endif
