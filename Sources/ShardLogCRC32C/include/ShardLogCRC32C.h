#ifndef SHARDLOG_CRC32C_H
#define SHARDLOG_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// Continues a CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) over `count`
/// bytes. Start with `crc = 0`; the function applies the standard pre- and
/// post-inversion itself, so `shardlog_crc32c(shardlog_crc32c(0, a), b)` equals the
/// CRC of `a` followed by `b`. Uses the SSE4.2 `crc32` instruction when the CPU has
/// it, slicing-by-8 tables otherwise.
uint32_t shardlog_crc32c(uint32_t crc, const void *bytes, size_t count);

/// The table-driven implementation alone, so tests can check that both agree.
uint32_t shardlog_crc32c_software(uint32_t crc, const void *bytes, size_t count);

/// 1 when the hardware path is in use.
int shardlog_crc32c_is_hardware(void);

#endif
