import Foundation
import LeafArchive
import LeafBackup
import LeafDigest
import LeafKeys
import LeafRepository
import LeafSQLite
import LeafSodium
import LeafStorage
import LeafTestSupport
import Testing

@Suite struct BackupTests {
    @Test func restoredDataIsByteIdenticalAndTheDatabaseChecksOut() throws {
        let f = try BackupFixture()
        let b = try f.backup()
        #expect(b.snapshot.problems.isEmpty)
        #expect(b.snapshot.documents.count > 20)
        let r = try f.restore()
        #expect(r.repairedAround.isEmpty)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
        let db = try Database(path: f.dir.file("restored/planner.db"), mode: .readOnly)
        #expect(try db.query("PRAGMA integrity_check")[0][0] == .text("ok"))
        let src = try Database(path: f.dataDirectory + "/planner.db", mode: .readOnly)
        for t in ["accounts", "users", "credentials", "documents", "activity_log"] {
            #expect(try db.query("SELECT count(*) FROM \(t)") == src.query("SELECT count(*) FROM \(t)"))
        }
    }

    @Test func anUnchangedSecondBackupStoresAlmostNothing() throws {
        let f = try BackupFixture()
        let first = try f.backup()
        let before = f.shardFiles().count
        let second = try f.backup()
        #expect(second.filesUnchanged == first.snapshot.documents.count)
        // The database copy's header (change counter) differs; every other chunk is reused.
        #expect(second.bytesAdded <= 64 << 10, "added \(second.bytesAdded)")
        #expect(f.shardFiles().count - before <= 6)
        #expect(try f.repository().snapshots().count == 2)
    }

    @Test func aOnePercentChangeWritesAboutOnePercent() throws {
        let f = try BackupFixture()
        let first = try f.backup()
        let total = first.snapshot.totalBytes
        // The application adds a document of ~1 % of the data and some activity rows.
        let newDoc = Sodium.randomBytes(Int(total / 100))
        try FileManager.default.createDirectory(atPath: f.dataDirectory + "/documents/1", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: f.dataDirectory + "/documents/1/new-scan.pdf", contents: Data(newDoc))
        let db = try Database(path: f.dataDirectory + "/planner.db")
        try db.run(
            "INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_at) VALUES (1, 'legal', 'scan.pdf', '1/new-scan.pdf', ?, ?, '2026-11-29T00:00:00Z')",
            [.integer(Int64(newDoc.count)), .text(SHA256.hash(newDoc).hexString)])
        try db.transaction {
            for i in 0..<50 { try db.run("INSERT INTO activity_log (at, action, detail) VALUES ('2026-11-29T01:00:00Z', 'view', ?)", [.text("row \(i)")]) }
        }
        let second = try f.backup()
        #expect(second.bytesAdded >= Int64(newDoc.count))
        // The new document, plus the database chunks the new rows touched (a few pages of a
        // table, its indexes and the header), and nothing else.
        #expect(second.bytesAdded <= Int64(newDoc.count) + 12 * 32 * 1024, "added \(second.bytesAdded) of \(total)")
        #expect(second.filesUnchanged == first.snapshot.documents.count)
        let r = try f.restore()
        #expect(r.files == first.snapshot.documents.count + 2)
        #expect(
            FileManager.default.contentsEqual(atPath: f.dir.file("restored/documents/1/new-scan.pdf"), andPath: f.dataDirectory + "/documents/1/new-scan.pdf"))
    }

    @Test func aWrongMasterKeyNamesTheVersionAndWritesNothing() throws {
        let f = try BackupFixture()
        try f.backup()
        let before = f.storedFiles()
        let wrong = MasterKey(version: 1, secret: try SecureBytes.random(count: 32))
        #expect {
            _ = try Backup(repository: try f.repository(key: wrong), dataDirectory: f.dataDirectory, options: f.options()).run()
        } throws: { error in
            guard case RepositoryError.wrongMasterKey(let v, _) = error else { return false }
            return v == 1 && "\(error)".contains("master key version 1")
        }
        #expect(f.storedFiles() == before)
    }

    @Test func aFlippedByteIsDetectedAndRestoredAround() throws {
        let f = try BackupFixture()
        try f.backup()
        // A data shard (index 0): restore reads data shards first, parity only when needed.
        let victim = f.dir.file("regions/primary/" + f.shardFiles().first { $0.hasSuffix(".0") }!)
        var bytes = [UInt8](FileManager.default.contents(atPath: victim)!)
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        let r = try f.restore()
        #expect(r.repairedAround.contains { $0.contains("failed authentication") })
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
    }

    @Test func parityLocationsMayBeLostButNotOneMore() throws {
        let f = try BackupFixture()
        try f.backup()
        try FileManager.default.removeItem(atPath: f.locationRoot(1))
        try FileManager.default.removeItem(atPath: f.locationRoot(4))
        let r = try f.restore()
        #expect(!r.repairedAround.isEmpty)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
        try FileManager.default.removeItem(atPath: f.locationRoot(2))
        #expect {
            _ = try f.restore(into: "restored-2")
        } throws: { error in
            "\(error)".contains("cannot be read from any location") && "\(error)".contains("is unavailable")
        }
    }

    @Test func shardsCannotBeSwappedOrRelabelled() throws {
        let f = try BackupFixture()
        try f.backup()
        let shards = f.shardFiles()
        func pack(_ name: String) -> Substring { name.split(separator: "/").last!.split(separator: ".").first! }
        // Relabel: change the shard-index byte of a data shard's header; the associated data no longer matches.
        let relabelled = shards.first { $0.hasSuffix(".0") }!
        let a = f.dir.file("regions/primary/" + relabelled)
        var bytes = [UInt8](FileManager.default.contents(atPath: a)!)
        let repo = try f.repository(create: false)
        #expect(try EnvelopeHeader.decode(bytes).shardIndex == 0)
        bytes[7] = 1
        try Data(bytes).write(to: URL(fileURLWithPath: a))
        // Swap: put another pack's shard under a data shard's name of a third pack.
        let target = shards.first { $0.hasSuffix(".1") && pack($0) != pack(relabelled) }!
        let source = shards.first { pack($0) != pack(target) && pack($0) != pack(relabelled) }!
        let b = f.dir.file("regions/primary/" + target)
        try FileManager.default.removeItem(atPath: b)
        try FileManager.default.copyItem(atPath: f.dir.file("regions/primary/" + source), toPath: b)
        let r = try f.restore(from: repo)
        #expect(r.repairedAround.count >= 2)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
    }

    @Test func storedNamesAndBytesRevealNoContent() throws {
        let f = try BackupFixture()
        let b = try f.backup()
        let names = f.storedFiles().joined(separator: "\n")
        for d in b.snapshot.documents.prefix(50) {
            #expect(!names.contains(d.sha256), "a document digest appears in a stored name")
            #expect(!names.contains((d.path as NSString).lastPathComponent))
        }
        // A distinctive run of text from a text document must appear in no stored object.
        let text = try #require(b.snapshot.documents.first { $0.path.hasSuffix(".txt") })
        let plain = [UInt8](FileManager.default.contents(atPath: f.dataDirectory + "/" + text.path)!)
        let needle = Array(plain.prefix(48))
        for file in f.storedFiles() {
            let stored = [UInt8](FileManager.default.contents(atPath: f.dir.file("regions/primary/" + file))!)
            #expect(!containsRun(stored, needle), "\(file) holds plaintext")
        }
    }

    @Test func everyObjectIsSealedAndNoNonceRepeatsUnderAKey() throws {
        let f = try BackupFixture()
        try f.backup()
        try f.backup()
        var seen = Set<[UInt8]>()
        var copies = [String: [UInt8]]()
        for file in f.storedFiles() {
            let bytes = [UInt8](FileManager.default.contents(atPath: f.dir.file("regions/primary/" + file))!)
            let h = try EnvelopeHeader.decode(bytes)
            #expect(h.algorithm == AEADAlgorithm.preferred)
            // Replicated metadata is the same object in every location: count it once.
            let logical = String(file.split(separator: "/", maxSplits: 1)[1])
            if let earlier = copies[logical] { #expect(earlier == bytes); continue }
            copies[logical] = bytes
            #expect(seen.insert(h.keyID.bytes + h.nonce).inserted, "nonce reused in \(file)")
        }
        #expect(seen.count > 10)
    }

    @Test func aDecryptedPackIsAStandardTarThatBsdtarExtracts() throws {
        let f = try BackupFixture()
        try f.backup()
        let repo = try f.repository(create: false)
        let index = try repo.loadIndex()
        for compressed in [true, false] {
            let entry = try #require(index.packs.values.first { $0.compressed == compressed })
            let (bytes, _) = try repo.readPack(entry)
            let path = f.dir.file("pack-\(compressed).tar")
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let listed = try runCommand("/usr/bin/bsdtar", ["-tf", path])
            #expect(listed.status == 0)
            #expect(Set(listed.stdout.split(separator: "\n").map(String.init)) == Set(entry.blobs.map(\.id.hex)))
            let out = f.dir.file("x-\(compressed)")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            #expect(try runCommand("/usr/bin/bsdtar", ["-xf", path, "-C", out]).status == 0)
            let first = entry.blobs[0]
            let extracted = [UInt8](FileManager.default.contents(atPath: out + "/" + first.id.hex)!)
            #expect(extracted.count == first.length)
            #expect(repo.blobID(sha256: SHA256.hash(extracted)) == first.id)
        }
    }

    @Test func missingAndAlteredDocumentsAreReportedAndTheRestIsKept() throws {
        let f = try BackupFixture()
        let db = try Database(path: f.dataDirectory + "/planner.db", mode: .readOnly)
        let paths = try db.query("SELECT blob_path FROM documents ORDER BY id LIMIT 2").compactMap { $0[0].text }
        try FileManager.default.removeItem(atPath: f.dataDirectory + "/documents/" + paths[0])
        let altered = f.dataDirectory + "/documents/" + paths[1]
        var bytes = [UInt8](FileManager.default.contents(atPath: altered)!)
        bytes[0] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: altered))
        let b = try f.backup()
        #expect(b.snapshot.problems.map(\.problem).sorted() == ["altered", "missing"])
        #expect(b.snapshot.problems.contains { $0.path == "documents/" + paths[0] && $0.problem == "missing" })
        let total = try db.query("SELECT count(*) FROM documents")[0][0].int!
        #expect(b.snapshot.documents.count == Int(total) - 1)
        _ = try f.restore()
    }

    @Test func restoreRefusesANonEmptyFolderUnlessForced() throws {
        let f = try BackupFixture()
        try f.backup()
        try f.dir.write("restored/keep.txt", "mine")
        #expect { _ = try f.restore() } throws: { "\($0)".contains("not empty") && "\($0)".contains("--force") }
        // --force replaces a planner data folder's content as a whole, so a folder holding
        // anything else (a mistyped parent: /srv for /srv/planner) is refused, and kept.
        #expect { _ = try f.restore(force: true) } throws: { e in
            guard let e = e as? RestoreError else { return false }
            return e.refused && e.message.contains("keep.txt") && e.message.contains("nothing was written")
        }
        #expect(try String(contentsOfFile: f.dir.file("restored/keep.txt"), encoding: .utf8) == "mine")
        try FileManager.default.removeItem(atPath: f.dir.file("restored/keep.txt"))
        // An old planner data folder: replaced whole, its stale document and side files gone.
        try f.dir.write("restored/planner.db", "an old database")
        try f.dir.write("restored/planner.db-wal", "its log")
        try f.dir.write("restored/documents/1/stale.pdf", "a document since deleted")
        _ = try f.restore(force: true)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: f.dir.path).allSatisfy { !$0.contains("leafguard-restore") && !$0.contains("leafguard-old") })
    }

    @Test func unknownSnapshotsAndEmptyRegionsGiveClearErrors() throws {
        let f = try BackupFixture()
        #expect { _ = try f.repository(create: false) } throws: { "\($0)".contains("holds no repository") }
        try f.backup()
        #expect { _ = try f.restore("deadbeef") } throws: { "\($0)".contains("no snapshot 'deadbeef'") }
    }

    @Test func aTruncatedShardIsTreatedAsCorrupt() throws {
        let f = try BackupFixture()
        try f.backup()
        for shard in f.shardFiles().filter({ $0.hasSuffix(".0") }).prefix(3) {
            let p = f.dir.file("regions/primary/" + shard)
            let bytes = FileManager.default.contents(atPath: p)!
            try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: p))
        }
        let r = try f.restore()
        #expect(r.repairedAround.count >= 1)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
    }

    @Test func theDatabaseIsCopiedConsistentlyWhileAWriterCommits() throws {
        let f = try BackupFixture()
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        writer.arguments = [
            "-c",
            """
            import sqlite3, sys, time
            deadline = time.time() + 120  # never outlive the test run
            db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            n = 0
            while time.time() < deadline:
                n += 1
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO activity_log(at, action, detail) VALUES ('2026-11-29T00:00:00Z', 'writer', ?)", (str(n),))
                db.execute("COMMIT")
                if n == 20:
                    sys.stdout.write("ready\\n"); sys.stdout.flush()
            """, f.dataDirectory + "/planner.db",
        ]
        let out = Pipe()
        writer.standardOutput = out
        try writer.run()
        // SIGKILL: the test runner's ignored SIGTERM is inherited by children.
        defer { if writer.isRunning { kill(writer.processIdentifier, SIGKILL) } }
        _ = out.fileHandleForReading.availableData  // "ready": the writer is committing
        var results: [BackupResult] = []
        for _ in 0..<3 { results.append(try f.backup()) }
        kill(writer.processIdentifier, SIGKILL); writer.waitUntilExit()
        let live = try Database(path: f.dataDirectory + "/planner.db", mode: .readOnly)
        let committed = try live.query("SELECT count(*) FROM activity_log WHERE action = 'writer'")[0][0].int!
        var previous: Int64 = 0
        for (i, r) in results.enumerated() {
            let name = "restored-\(i)"
            _ = try f.restore(r.snapshot.id.hex, into: name)
            let db = try Database(path: f.dir.file(name + "/planner.db"), mode: .readOnly)
            #expect(try db.query("PRAGMA integrity_check")[0][0] == .text("ok"))
            let rows = try db.query("SELECT CAST(detail AS INTEGER) FROM activity_log WHERE action = 'writer' ORDER BY id").compactMap { $0[0].int }
            // Exactly a prefix of the writer's commits: 1, 2, …, k with nothing missing.
            #expect(rows == Array(1...Int64(max(rows.count, 1))).prefix(rows.count).map { $0 })
            #expect(rows.count >= 20)
            #expect(Int64(rows.count) >= previous)
            previous = Int64(rows.count)
        }
        #expect(committed > previous, "the writer kept committing during the backups")
    }
}

func containsRun(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, hay.count >= needle.count else { return false }
    let first = needle[0]
    var i = 0
    while i <= hay.count - needle.count {
        if hay[i] == first && Array(hay[i..<(i + needle.count)]) == needle { return true }
        i += 1
    }
    return false
}
