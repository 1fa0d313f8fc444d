import ShardLogCRC32C
import Testing

@testable import CommandLog

/// LOG-040: CRC-32C against the published vectors (RFC 3720 appendix B.4 and the check value).
@Suite struct CRC32CTests {
    func crc(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { crc32c($0) } }

    @Test func checkValue() {
        #expect(crc(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func rfc3720Vectors() {
        #expect(crc([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(crc([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(crc((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(crc((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        // The iSCSI SCSI Read (10) command PDU of RFC 3720 B.4.
        let pdu: [UInt8] = [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
        #expect(crc(pdu) == 0xD9963A56)
    }

    @Test func emptyInputIsZero() {
        #expect(crc([]) == 0)
    }

    @Test func continuationEqualsWhole() {
        var rng = SeededRandom(seed: 1)
        let bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let first = bytes[..<split].withUnsafeBytes { crc32c($0) }
            let both = bytes[split...].withUnsafeBytes { crc32c($0, continuing: first) }
            #expect(both == crc(bytes), "split at \(split)")
        }
    }

    @Test func hardwareAndSoftwareAgree() {
        var rng = SeededRandom(seed: 2)
        for length in [0, 1, 3, 8, 15, 64, 1000, 4097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let software = bytes.withUnsafeBytes { shardlog_crc32c_software(0, $0.baseAddress, $0.count) }
            #expect(software == crc(bytes), "length \(length)")
        }
    }
}
