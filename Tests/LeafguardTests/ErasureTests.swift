import Foundation
import LeafErasure
import Testing

@Suite struct ErasureTests {
    static func object(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }

    @Test(arguments: [1, 63, 64, 1000, 65537])
    func anyTwoOfSixShardsMayBeLost(length: Int) throws {
        let rs = try ReedSolomon(dataShards: 4, parityShards: 2)
        let obj = Self.object(length)
        let shards = obj.withUnsafeBytes { rs.encode($0) }
        #expect(shards.count == 6)
        for a in 0..<6 {
            for b in (a + 1)..<6 {
                var damaged: [[UInt8]?] = shards
                damaged[a] = nil; damaged[b] = nil
                try rs.reconstruct(&damaged)
                #expect(damaged.map { $0! } == shards, "lost \(a) and \(b)")
                #expect(rs.join(damaged.prefix(4).map { $0! }, length: length) == obj)
            }
        }
    }

    @Test func threeLostShardsAreReportedNotGuessed() throws {
        let rs = try ReedSolomon(dataShards: 4, parityShards: 2)
        var shards: [[UInt8]?] = Self.object(5000).withUnsafeBytes { rs.encode($0) }
        shards[0] = nil; shards[3] = nil; shards[5] = nil
        #expect(throws: ErasureError.tooFewShards(have: 3, need: 4)) { try rs.reconstruct(&shards) }
    }

    @Test func otherLayoutsWork() throws {
        let rs = try ReedSolomon(dataShards: 6, parityShards: 3)
        let obj = Self.object(100_000)
        var shards: [[UInt8]?] = obj.withUnsafeBytes { rs.encode($0) }
        shards[1] = nil; shards[4] = nil; shards[7] = nil
        try rs.reconstruct(&shards)
        #expect(rs.join(shards.prefix(6).map { $0! }, length: obj.count) == obj)
        #expect(throws: ErasureError.self) { try ReedSolomon(dataShards: 0, parityShards: 2) }
    }
}
