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
