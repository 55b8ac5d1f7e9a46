import Foundation
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafRepository
import LeafTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `reencrypt` against a real deployment: fresh keys and ciphertext, a new layout over
/// more locations, every snapshot restoring before, during and after, and a killed run
/// finished by the next.
@Suite struct ReencryptTests {
    func deployment(locations: Int = 6) throws -> DeploymentFixture {
        let d = try DeploymentFixture()
        try d.markDrillCopy()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        return d
    }

    func setLocations(_ d: DeploymentFixture, _ n: Int) throws {
        let yml = try String(contentsOfFile: d.config, encoding: .utf8).replacingOccurrences(of: "locations: 6", with: "locations: \(n)")
        try d.dir.write("leafguard.yml", yml)
    }

    func repository(_ d: DeploymentFixture, _ region: String = "primary") throws -> Repository {
        try Deployment(config: try ConfigLoader.load(path: d.config)).repository(region)
    }

    /// Every stored object of a region whose envelope header names `key` (as sealing key).
    func objectsSealed(by key: ObjectID, in d: DeploymentFixture, region: String) throws -> [String] {
        try filesBelow(d.dir.file("regions/\(region)")).filter { rel in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: d.dir.file("regions/\(region)/\(rel)"))))
            return bytes.count > 44 && Array(bytes[0..<4]) == Array("LGRD".utf8) && Array(bytes[28..<44]) == key.bytes
        }
    }

    func restoreEverySnapshot(_ d: DeploymentFixture, _ label: String, regions: [String] = ["primary", "backup"]) throws {
        let list = try leafguard(["snapshots", "list", "--json", "--config", d.config])
        let ids = try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(list.stdout.utf8)).compactMap { $0["id"]?.string }
        #expect(!ids.isEmpty)
        for id in ids {
            for region in regions {
                let target = d.dir.file("restore-\(label)-\(region)-\(id)")
                let r = try leafguard(["restore", id, "--region", region, "--to", target, "--config", d.config])
                #expect(r.status == 0, "\(label): snapshot \(id) from \(region): \(r.all)")
                try? FileManager.default.removeItem(atPath: target)
            }
        }
    }

    @Test func aSuspectedKeyIsReplacedEverywhereIntoANewLayoutOverMoreLocations() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        // The first backup's session key is the one "leaked".
        let leaked = try #require(try repository(d).loadIndex().packs.values.first?.dataKey)
        try addDocument(to: d, megabytes: 3)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try !objectsSealed(by: leaked, in: d, region: "primary").isEmpty)

        // Grow both regions to 9 locations and ask for 6+3.
        try setLocations(d, 9)
        try d.dir.write("jobs/rekey.yml", "name: rekey\nsteps: [{reencrypt: {data_key: \(leaked.hex), shards: {data: 6, parity: 3}}}]\n")
        let dry = try leafguard(["run", "rekey", "--dry-run", "--config", d.config])
        #expect(dry.status == 0 && dry.stdout.contains("would rewrite"), "\(dry.all)")
        #expect(try !objectsSealed(by: leaked, in: d, region: "primary").isEmpty, "a dry run changed nothing")
        let r = try leafguard(["run", "rekey", "--config", d.config])
        #expect(r.status == 0 && r.stdout.contains("re-encrypted as 6+3"), "\(r.all)")

        for region in ["primary", "backup"] {
            #expect(try objectsSealed(by: leaked, in: d, region: region).isEmpty, "\(region) still holds objects sealed by the replaced key")
            #expect(!filesBelow(d.dir.file("regions/\(region)")).contains { $0.hasSuffix("keys/\(leaked.hex)") }, "the replaced key's own object remains")
            let packs = try repository(d, region).loadIndex().packs.values
            #expect(!packs.contains { $0.dataKey == leaked })
            let rewritten = packs.filter { $0.dataShards == 6 }
            #expect(!rewritten.isEmpty && rewritten.allSatisfy { $0.parityShards == 3 && Set($0.locations).count == 9 })
            #expect(filesBelow(d.dir.file("regions/\(region)/loc8/data")).count > 0, "the new locations hold shards")
        }
        try restoreEverySnapshot(d, "rekeyed")
        let verify = try leafguard(["verify", "--read-data", "--config", d.config])
        #expect(verify.status == 0, "\(verify.all)")
        // Once done, a rerun has nothing to do.
        let again = try leafguard(["run", "rekey", "--config", d.config])
        #expect(again.status == 0 && again.stdout.contains("0 packs re-encrypted"), "\(again.all)")
        // The identity key is refused with a reason.
        let idKey = try repository(d).config.idKey
        try d.dir.write("jobs/rekey-id.yml", "name: rekey-id\nsteps: [{reencrypt: {data_key: \(idKey.hex)}}]\n")
        let refused = try leafguard(["run", "rekey-id", "--config", d.config])
        #expect(refused.status == 1 && refused.all.contains("identity key"), "\(refused.all)")
    }

    @Test func olderThanSelectsBySealTimeSoRewrittenDataIsNotSelectedAgain() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        try d.dir.write("jobs/refresh.yml", "name: refresh\nsteps: [{reencrypt: {older_than: 1h}}]\n")
        let before = try repository(d).loadIndex().packs.count
        let soon = try leafguard(["run", "refresh", "--config", d.config])
        #expect(soon.status == 0 && soon.stdout.contains("0 packs re-encrypted"), "nothing is an hour old yet: \(soon.all)")
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2 * 3600))
        let r = try leafguard(["run", "refresh", "--now", later, "--config", d.config])
        #expect(r.status == 0 && r.stdout.contains("\(before) packs re-encrypted as 4+2"), "\(r.all)")
        let halfHour = ISO8601DateFormatter().string(from: Date().addingTimeInterval(1800))
        let again = try leafguard(["run", "refresh", "--now", halfHour, "--config", d.config])
        #expect(again.status == 0 && again.stdout.contains("0 packs re-encrypted"), "\(again.all)")
        try restoreEverySnapshot(d, "refreshed")
    }

    @Test func aKilledReencryptionLosesNothingAndTheNextRunFinishesIt() throws {
        let d = try deployment()
        try addDocument(to: d, megabytes: 24)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        try addDocument(to: d, megabytes: 24)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let packs = try repository(d).loadIndex().packs.values
        let leaked = try #require(
            packs.max { a, b in packs.filter { $0.dataKey == a.dataKey }.count < packs.filter { $0.dataKey == b.dataKey }.count }?.dataKey)
        try d.dir.write("jobs/rekey.yml", "name: rekey\nsteps: [{reencrypt: {data_key: \(leaked.hex)}}]\n")
        // How long a whole run takes, measured on a copy, so kills land all along one.
        let fm = FileManager.default
        try fm.copyItem(atPath: d.dir.file("regions"), toPath: d.dir.file("regions-copy"))
        try fm.copyItem(atPath: d.dir.file("state"), toPath: d.dir.file("state-copy"))
        let t0 = Date()
        #expect(try leafguard(["run", "rekey", "--config", d.config]).status == 0)
        let duration = max(Date().timeIntervalSince(t0), 0.1)
        for dir in ["regions", "state"] {
            try fm.removeItem(atPath: d.dir.file(dir))
            try fm.moveItem(atPath: d.dir.file(dir + "-copy"), toPath: d.dir.file(dir))
        }
        var kills = 0
        for round in 0..<4 {
            let p = try startLeafguard(["run", "rekey", "--config", d.config])
            usleep(UInt32(duration * 1_000_000 * Double(round + 1) / 5))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            // The killed run's region lock stays behind; its process is gone, so it blocks nothing.
            try restoreEverySnapshot(d, "killed-\(round)")
        }
        #expect(kills > 0, "no run was stopped midway")
        // A backup is not blocked by a lock a killed run left.
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let last = try leafguard(["run", "rekey", "--config", d.config])
        #expect(last.status == 0, "\(last.all)")
        for region in ["primary", "backup"] { #expect(try objectsSealed(by: leaked, in: d, region: region).isEmpty) }
        try restoreEverySnapshot(d, "finished")
        let verified = try leafguard(["verify", "--read-data", "--config", d.config]); #expect(verified.status == 0, "\(verified.all)")
    }
}
