import Foundation
import LeafArchive
import LeafTestSupport
import Testing

@Suite struct ArchiveTests {
    @Test(arguments: [nil, 3] as [Int?])
    func tarPacksRoundTripAndBsdtarListsThem(zstd: Int?) throws {
        let w = try TarWriter(zstdLevel: zstd)
        let a = Array(repeating: UInt8(ascii: "a"), count: 100_000)
        let b: [UInt8] = (0..<777).map { UInt8($0 & 0xff) }
        try w.add(name: "blob-a", bytes: a)
        try w.add(name: "blob-b", bytes: b)
        try w.add(name: "empty", bytes: [])
        let bytes = try w.finish()
        if zstd != nil { #expect(bytes.count < 5_000, "100 kB of one letter must compress") }
        var seen: [(String, [UInt8])] = []
        try TarReader.forEachEntry(in: bytes) { seen.append(($0, $1)) }
        #expect(seen.map(\.0) == ["blob-a", "blob-b", "empty"])
        #expect(seen[0].1 == a && seen[1].1 == b && seen[2].1.isEmpty)

        let dir = TemporaryDirectory()
        let path = dir.file("pack.tar")
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let listed = try runCommand("/usr/bin/bsdtar", ["-tf", path])
        #expect(listed.status == 0)
        #expect(listed.stdout.split(separator: "\n") == ["blob-a", "blob-b", "empty"])
    }

    @Test func truncatedArchiveIsAnErrorNotShortData() throws {
        let w = try TarWriter(zstdLevel: nil)
        try w.add(name: "x", bytes: Array(repeating: 1, count: 5000))
        let bytes = try w.finish()
        #expect(throws: ArchiveError.self) { try TarReader.forEachEntry(in: Array(bytes.prefix(2000))) { _, _ in } }
    }
}

/// A pack's bytes come from storage one location's owner can write (issue 29, point 3):
/// what libarchive and libzstd would allocate is bounded before they see the bytes.
@Suite struct BoundedArchiveTests {
    /// The fuzzer's find: 119 bytes whose zstd frame asks for a 104 MiB window (libzstd
    /// allocated 109 MB for it).
    @Test func aZstdFrameAskingForAHugeWindowIsRefusedUnread() throws {
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/Fuzz/regressions/tar/zstd-window-109MB")))
        #expect(input.count < 200)
        #expect { try TarReader.forEachEntry(in: input) { _, _ in } } throws: { "\($0)".contains("window") }
    }

    /// A zstd bomb: one frame of RLE blocks, 4 bytes each, each 128 KiB once decompressed.
    @Test func aFrameThatDecompressesBeyondTheBoundIsRefused() throws {
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x58]  // no FCS, window 2^(10+11) = 2 MiB
        let blocks = 1024  // 128 MiB of output from 4 KiB of input
        for i in 0..<blocks {
            let header = (1 << 17) << 3 | 1 << 1 | (i == blocks - 1 ? 1 : 0)  // RLE, 128 KiB
            frame += [UInt8(header & 0xFF), UInt8(header >> 8 & 0xFF), UInt8(header >> 16 & 0xFF), 0x41]
        }
        #expect { try TarReader.forEachEntry(in: frame) { _, _ in } } throws: { "\($0)".contains("could decompress to") }
    }

    /// What TarWriter writes still reads, plain and zstd, and another filter is refused.
    @Test func packsAsWrittenReadAndOtherFiltersDoNot() throws {
        for level in [nil, 3] as [Int?] {
            let w = try TarWriter(zstdLevel: level)
            try w.add(name: "blob", bytes: [UInt8](repeating: 7, count: 3 << 20))
            var seen = 0
            try TarReader.forEachEntry(in: try w.finish()) { name, bytes in
                seen += 1
                #expect(name == "blob" && bytes.count == 3 << 20)
            }
            #expect(seen == 1)
        }
        let dir = TemporaryDirectory("leafguard-gzip")
        try dir.write("f", "gzip is not a filter leafguard writes")
        let r = try runCommand("/bin/sh", ["-c", "cd \(dir.path) && tar czf f.tgz f"])
        #expect(r.status == 0, "\(r.all)")
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("f.tgz"))))
        #expect(throws: (any Error).self) { try TarReader.forEachEntry(in: gz) { _, _ in } }
    }
}
