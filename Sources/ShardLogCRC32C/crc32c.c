// CRC-32C as used by iSCSI (RFC 3720), ext4 and RocksDB: reflected polynomial
// 0x82F63B78, initial value and final xor 0xFFFFFFFF. See Specs/CommandLog.md (LOG-040).
#include "ShardLogCRC32C.h"
#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;
static int use_hardware = -1;

static void build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[t][n] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t shardlog_crc32c_software(uint32_t crc, const void *bytes, size_t count) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_tables(); // idempotent: same values
    const uint8_t *p = (const uint8_t *)bytes;
    uint32_t c = ~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8); // little-endian machines only (x86_64, aarch64)
        word ^= c;
        c = table[7][word & 0xFF] ^ table[6][(word >> 8) & 0xFF] ^
            table[5][(word >> 16) & 0xFF] ^ table[4][(word >> 24) & 0xFF] ^
            table[3][(word >> 32) & 0xFF] ^ table[2][(word >> 40) & 0xFF] ^
            table[1][(word >> 48) & 0xFF] ^ table[0][word >> 56];
        p += 8;
        count -= 8;
    }
    while (count--) c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *bytes, size_t count) {
    const uint8_t *p = (const uint8_t *)bytes;
    uint64_t c = (uint32_t)~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        count -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (count--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

int shardlog_crc32c_is_hardware(void) {
    int h = __atomic_load_n(&use_hardware, __ATOMIC_ACQUIRE);
    if (h < 0) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        h = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
        h = 0;
#endif
        __atomic_store_n(&use_hardware, h, __ATOMIC_RELEASE);
    }
    return h;
}

uint32_t shardlog_crc32c(uint32_t crc, const void *bytes, size_t count) {
#if defined(__x86_64__)
    if (shardlog_crc32c_is_hardware()) return crc32c_sse42(crc, bytes, count);
#endif
    return shardlog_crc32c_software(crc, bytes, count);
}
