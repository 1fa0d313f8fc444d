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

#endif
