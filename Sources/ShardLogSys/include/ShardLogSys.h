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

#endif
