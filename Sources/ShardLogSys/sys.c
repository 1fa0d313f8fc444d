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
