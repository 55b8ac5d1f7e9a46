import Foundation
import LeafAudit
import LeafConcurrency
import LeafKeys
import LeafSQLite
import LeafSodium
import LeafTestSupport
import Testing

/// The audit log's chain and checkpoints, and the activity-log seals: every kind of
/// tampering is caught and named.
@Suite struct AuditTests {
    let dir = TemporaryDirectory("leafguard-audit")
    var state: String { dir.file("state") }
    var log: AuditLog { AuditLog(stateDirectory: state) }

    func signer() throws -> AuditSigner { try AuditSigner(master: MasterKey(version: 1, secret: try SecureBytes.random(count: 32))) }

    func filled(_ n: Int = 10) throws -> [String] {
        for i in 1...n {
            try log.append(
                AuditEntry(action: "step", command: "run", job: "nightly", step: "backup", objects: ["run \(i)"], outcome: "succeeded", detail: "entry \(i)"))
        }
        return try String(contentsOfFile: log.path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func rewrite(_ lines: [String]) throws { try (lines.joined(separator: "\n") + "\n").write(toFile: log.path, atomically: true, encoding: .utf8) }

    @Test func anIntactLogVerifiesAndRecordsWho() throws {
        _ = try filled()
        let v = try log.verify(checkpoint: nil)
        #expect(v.intact && v.entries == 10)
        let e = try log.entries()
        #expect(e.map(\.seq) == Array(1...10))
        #expect(e[0].user == ProcessInfo.processInfo.userName && e[0].host == ProcessInfo.processInfo.hostName && e[0].uid == Int(getuid()))
        #expect(e[1].prev != AuditLog.genesis && e[0].prev == AuditLog.genesis)
        let mode = try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func anEditedEntryIsNamed() throws {
        var lines = try filled()
        lines[3] = lines[3].replacingOccurrences(of: "\"outcome\":\"succeeded\"", with: "\"outcome\":\"failed\"")
        try rewrite(lines)
        let v = try log.verify(checkpoint: nil)
        #expect(v.problems.first == "entry 4 (line 4): modified — its contents do not match its hash", "\(v.problems)")
    }

    @Test func aRehashedEditIsCaughtByTheNextLinkAndTheCheckpoint() throws {
        _ = try filled()
        let s = try signer()
        let c = try Checkpoint.open(try #require(try CheckpointStore(stateDirectory: state).write(log: log, signer: s)).bytes, publicKey: s.pair.publicKey)
        // Rewrite entry 4 with a valid hash of its own (SHA-256 is public).
        var entries = try log.entries()
        entries[3].detail = "nothing happened"
        var lines: [String] = []
        for e in entries { lines.append(String(decoding: try AuditLogTesting.line(e), as: UTF8.self).trimmingCharacters(in: .newlines)) }
        try rewrite(lines)
        let v = try log.verify(checkpoint: c)
        #expect(v.problems.first == "entry 5 (line 5): does not follow the entry before it — that entry was replaced, or this one inserted", "\(v.problems)")
        // Rewrite every link after it too: only the signed checkpoint can tell.
        var prev = AuditLog.genesis
        lines = []
        for var e in entries {
            e.prev = prev
            let line = try AuditLogTesting.line(e)
            lines.append(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .newlines))
            prev = String(lines.last!.suffix(66).prefix(64))
        }
        try rewrite(lines)
        let w = try log.verify(checkpoint: c)
        #expect(w.problems == ["entries up to 10 were rewritten: entry 10 differs from the signed checkpoint of \(c.at)"], "\(w.problems)")
    }

    @Test func deletedReorderedInsertedAndTruncatedEntriesAreNamed() throws {
        let lines = try filled()
        var deleted = lines; deleted.remove(at: 5)
        try rewrite(deleted)
        #expect(try log.verify(checkpoint: nil).problems == ["entry 6 is missing (deleted, or moved): line 6 holds entry 7"])

        var swapped = lines; swapped.swapAt(2, 3)
        try rewrite(swapped)
        #expect(
            try log.verify(checkpoint: nil).problems == [
                "entry 3 is missing (deleted, or moved): line 3 holds entry 4",
                "entry 3 (line 4): out of order or inserted — entry 5 was expected",
            ])

        var inserted = lines; inserted.insert(lines[1], at: 7)
        try rewrite(inserted)
        #expect(try log.verify(checkpoint: nil).problems == ["entry 2 (line 8): out of order or inserted — entry 8 was expected"])

        var junk = lines; junk.insert("{\"hello\":1}", at: 4)
        try rewrite(junk)
        #expect(try log.verify(checkpoint: nil).problems.first == "line 5: not an audit entry (damaged, or inserted by hand)")

        // Cutting the end leaves a valid chain: the checkpoint catches it.
        try rewrite(lines)
        let s = try signer()
        let c = try Checkpoint.open(try #require(try CheckpointStore(stateDirectory: state).write(log: log, signer: s)).bytes, publicKey: s.pair.publicKey)
        try rewrite(Array(lines.prefix(7)))
        #expect(try log.verify(checkpoint: nil).intact)
        #expect(try log.verify(checkpoint: c).problems == ["truncated: the signed checkpoint of \(c.at) records 10 entries; the log ends at entry 7"])
    }

    @Test func aCheckpointSignedByAnotherKeyIsRejected() throws {
        _ = try filled(3)
        let ours = try signer()
        let theirs = try signer()
        let forged = try Checkpoint(length: 1, head: AuditLog.genesis, at: Date(), publicKey: ours.publicKeyHex).signed(by: theirs)
        #expect(throws: AuditError.self) { try Checkpoint.open(forged, publicKey: ours.pair.publicKey) }
        do { _ = try Checkpoint.open(forged, publicKey: ours.pair.publicKey) } catch {
            #expect("\(error)".contains("is not signed by this deployment's audit key"))
        }
        // A flipped byte in a genuine one fails too.
        var genuine = try Checkpoint(length: 3, head: AuditLog.genesis, at: Date(), publicKey: ours.publicKeyHex).signed(by: ours)
        #expect((try? Checkpoint.open(genuine, publicKey: ours.pair.publicKey)) != nil)
        genuine[12] ^= 1
        #expect((try? Checkpoint.open(genuine, publicKey: ours.pair.publicKey)) == nil)
        // The same master key always gives the same audit key.
        let master = try SecureBytes.random(count: 32)
        #expect(
            try AuditSigner(master: MasterKey(version: 1, secret: master)).publicKeyHex
                == (try AuditSigner(master: MasterKey(version: 1, secret: master)).publicKeyHex))
    }

    @Test func concurrentAppendsKeepOneChain() throws {
        let state = self.state  // a log opened per append, as separate runs would
        parallelForEach(8, width: 8) { t in
            for i in 0..<25 {
                _ = try? AuditLog(stateDirectory: state).append(AuditEntry(action: "step", command: "test", objects: ["\(t)-\(i)"], outcome: "ok"))
            }
        }
        let v = try log.verify(checkpoint: nil)
        #expect(v.intact && v.entries == 200, "\(v.problems.prefix(3))")
    }

    // MARK: Activity seals

    func plannerDatabase(rows: Int, gapAt: Int64? = nil) throws -> String {
        let path = dir.file("planner.db")
        let db = try Database(path: path)
        try db.execute(
            "CREATE TABLE activity_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor_id INTEGER, account_id INTEGER, action TEXT NOT NULL, target TEXT, ip TEXT, detail TEXT)"
        )
        try db.transaction {
            for i in 1...rows where Int64(i) != gapAt {
                try db.run(
                    "INSERT INTO activity_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        .integer(Int64(i)), .text("2026-11-01T00:00:\(i % 60)Z"), i % 3 == 0 ? .null : .integer(Int64(i % 17)), .integer(3),
                        .text("view"), .text("document:\(i)"), .text("10.0.0.\(i % 250)"), i % 5 == 0 ? .null : .text("détail \(i)"),
                    ])
            }
        }
        return path
    }

    @Test func sealedActivityRowsThatChangeAreReportedById() throws {
        let db = try plannerDatabase(rows: 500, gapAt: 250)
        let s = try signer()
        let sealer = ActivitySealer(stateDirectory: state)
        let first = try #require(try sealer.seal(database: db, signer: s))
        #expect(first.header.count == 499 && first.header.fromID == 1 && first.header.toID == 500)
        #expect(try sealer.seal(database: db, signer: s) == nil, "nothing new to seal")
        #expect(try sealer.verify(database: db, publicKey: s.pair.publicKey).intact)
        // New rows are sealed by the next seal, chained to the first.
        let d = try Database(path: db)
        try d.run("INSERT INTO activity_log (id, at, action) VALUES (501, 'x', 'login'), (502, 'y', 'logout')")
        let second = try #require(try sealer.seal(database: db, signer: s))
        #expect(second.header.seq == 2 && second.header.count == 2 && second.header.prevHead == first.header.head)

        try d.run("UPDATE activity_log SET detail = 'edited' WHERE id = 17")
        try d.run("UPDATE activity_log SET ip = '10.9.9.9' WHERE id = 501")
        try d.run("DELETE FROM activity_log WHERE id IN (40, 41)")
        try d.run("INSERT INTO activity_log (id, at, action) VALUES (250, '2026-11-01T00:00:00Z', 'grant')")
        // Reordering two rows' contents changes both.
        try d.execute(
            "UPDATE activity_log SET id = -1 WHERE id = 100; UPDATE activity_log SET id = 100 WHERE id = 101; UPDATE activity_log SET id = 101 WHERE id = -1")
        // Truncating the newest rows deletes them.
        try d.run("DELETE FROM activity_log WHERE id = 502")
        // A row added after the last seal is simply not sealed yet.
        try d.run("INSERT INTO activity_log (id, at, action) VALUES (503, 'z', 'login')")
        let v = try sealer.verify(database: db, publicKey: s.pair.publicKey)
        #expect(v.changed == [17, 100, 101, 501])
        #expect(v.deleted == [40, 41, 502])
        #expect(v.inserted == [250])
        #expect(v.sealProblems.isEmpty && v.seals == 2 && v.sealedRows == 501)
    }

    @Test func aSealSignedByAnotherKeyOrRemovedIsReported() throws {
        let db = try plannerDatabase(rows: 50)
        let s = try signer()
        let other = try signer()
        let sealer = ActivitySealer(stateDirectory: state)
        _ = try sealer.seal(database: db, signer: s)
        try Database(path: db).run("INSERT INTO activity_log (id, at, action) VALUES (51, 'x', 'login')")
        _ = try sealer.seal(database: db, signer: s)
        // Replace seal 2 with one an intruder signed over rows they like.
        let sealDir = state + "/audit/activity"
        let original = try Data(contentsOf: URL(fileURLWithPath: sealDir + "/seal-00000002"))
        try FileManager.default.removeItem(atPath: sealDir + "/seal-00000002")
        let forgedState = dir.file("forged")
        let forger = ActivitySealer(stateDirectory: forgedState)
        _ = try forger.seal(database: db, signer: other)
        try FileManager.default.copyItem(atPath: forgedState + "/audit/activity/seal-00000001", toPath: sealDir + "/seal-00000002")
        var v = try sealer.verify(database: db, publicKey: s.pair.publicKey)
        #expect(v.sealProblems == ["seal 1 (rows 1–51): not signed by this deployment's audit key"], "\(v.sealProblems)")
        // Removing a seal breaks the chain of the ones after.
        try original.write(to: URL(fileURLWithPath: sealDir + "/seal-00000002"))
        try FileManager.default.removeItem(atPath: sealDir + "/seal-00000001")
        v = try sealer.verify(database: db, publicKey: s.pair.publicKey)
        #expect(
            v.sealProblems == ["seal 1 is missing (found seal 2 in its place)", "seal 2: does not follow the seal before it (a seal was removed or replaced)"],
            "\(v.sealProblems)")
    }
}
