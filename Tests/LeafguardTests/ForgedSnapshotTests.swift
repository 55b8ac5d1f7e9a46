import Foundation
import LeafConfig
import LeafDeployment
import LeafSodium
import LeafTestSupport
import Testing

@testable import LeafRepository

/// A compromised client holding one data key (not the master key) seals a snapshot: the
/// oldest snapshot's content under an id a year ahead, so that it would be `latest` for a
/// year and `restore latest` would bring back old data. No signed record accounts for it:
/// leafguard never takes it into a region head (it used to, at the next command), verify
/// reports it, `snapshots list` warns and `restore latest` passes it by, on this host and on
/// a new one.
@Suite struct ForgedSnapshotTests {
    @Test func aSnapshotNoSignedRecordAccountsForIsNeverLatest() throws {
        let f = try DisasterFixture()
        let deployment = Deployment(config: try ConfigLoader.load(path: f.config))
        let repo = try deployment.repository("primary")
        let snapshots = try repo.snapshots()
        let oldest = try #require(snapshots.first)
        let newest = try #require(snapshots.last)
        // The client's key: the one the newest snapshot is sealed under.
        let sealed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f.file("regions/primary/loc0/snapshots/\(newest.id.hex)"))))
        let key = try repo.dataKey(try EnvelopeHeader.decode(sealed).keyID)
        let when = Date().addingTimeInterval(365 * 86400)
        let forged = SnapshotManifest(
            id: .timeOrdered(when), time: when, host: oldest.host, job: oldest.job, source: oldest.source, database: oldest.database,
            databaseChunkSize: oldest.databaseChunkSize, rowCounts: oldest.rowCounts, documents: oldest.documents, problems: oldest.problems,
            totalBytes: oldest.totalBytes, addedBytes: 0)
        // Sealed as the client would: leafguard's own API never seals with a loaded key.
        let json = [UInt8](try JSON.encoder.encode(forged))
        let header = EnvelopeHeader(
            algorithm: key.algorithm, kind: .snapshot, objectID: forged.id, keyID: key.id, plaintextLength: UInt64(json.count),
            nonce: Sodium.randomBytes(key.algorithm.nonceLength))
        try repo.putReplicated("snapshots/\(forged.id.hex)", try Envelope.seal(json, header: header, key: key.secret))
        let short = forged.id.short

        // A normal night: backup and replication (which copies the forgery to the backup region).
        try f.expectSuccess(["run", "nightly"])
        for region in ["primary", "backup"] {
            for head in filesBelow(f.file("regions/\(region)/loc1/heads")) {
                let text = try String(contentsOfFile: f.file("regions/\(region)/loc1/heads/\(head)"), encoding: .utf8)
                #expect(!text.contains(forged.id.hex), "\(region) \(head) takes in the forgery")
            }
        }
        func expectFlagged(_ label: String) throws {
            let list = try f.run(["snapshots", "list"])
            #expect(list.status == 0 && list.stderr.contains("no signed record accounts for") && list.stderr.contains(short), "\(label): \(list.all)")
            let target = f.file("restored-\(label)")
            let restore = try f.run(["restore", "latest", "--to", target])
            #expect(restore.status == 0 && restore.stderr.contains("accounted for by no signed record"), "\(label): \(restore.all)")
            #expect(sameTree(f.expected.last!.data, target), "\(label): latest is the newest real snapshot, not the forgery")
            let verify = try f.run(["verify", "--region", "primary"])
            #expect(verify.status == 1 && verify.stdout.contains("unrecorded-snapshot") && verify.stdout.contains(forged.id.hex), "\(label): \(verify.all)")
        }
        try expectFlagged("this-host")
        // A new host: the state folder (and its audit log) gone; the regions' heads and the
        // log rebuilt from the regions still account for the real snapshots only.
        try FileManager.default.removeItem(atPath: f.file("state"))
        try expectFlagged("new-host")
    }
}

/// docs/recover.py against a compromised client (issue 29, defect 9): it picks the newest
/// snapshot as leafguard does (signed region heads), never by the greatest id; it writes
/// nothing outside OUT_DIR whatever paths a forged snapshot names; files are 0600 and
/// folders 0700; an OUT_DIR that is a link is refused.
@Suite struct RecoverScriptTests {
    /// Seals `forged` as a client holding the newest snapshot's data key would.
    func plant(_ forged: SnapshotManifest, in f: DisasterFixture) throws {
        let deployment = Deployment(config: try ConfigLoader.load(path: f.config))
        let repo = try deployment.repository("primary")
        let newest = try #require(try repo.snapshots().last)
        let sealed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f.file("regions/primary/loc0/snapshots/\(newest.id.hex)"))))
        let key = try repo.dataKey(try EnvelopeHeader.decode(sealed).keyID)
        let json = [UInt8](try JSON.encoder.encode(forged))
        let header = EnvelopeHeader(
            algorithm: key.algorithm, kind: .snapshot, objectID: forged.id, keyID: key.id, plaintextLength: UInt64(json.count),
            nonce: Sodium.randomBytes(key.algorithm.nonceLength))
        try repo.putReplicated("snapshots/\(forged.id.hex)", try Envelope.seal(json, header: header, key: key.secret))
    }

    func recover(_ f: DisasterFixture, to out: String, _ extra: [String] = []) throws -> CommandOutput {
        try runCommand("/usr/bin/python3", [packageRoot + "/docs/recover.py", f.file("regions/primary"), f.file("keys/master.key"), out] + extra)
    }

    func forgery(_ f: DisasterFixture, documentPath: String? = nil) throws -> SnapshotManifest {
        let repo = try Deployment(config: try ConfigLoader.load(path: f.config)).repository("primary")
        let oldest = try #require(try repo.snapshots().first)
        var documents = oldest.documents
        if let documentPath, let d = documents.first {
            documents[0] = SnapshotFile(path: documentPath, size: d.size, sha256: d.sha256, modified: d.modified, mode: d.mode, blobs: d.blobs)
        }
        let when = Date().addingTimeInterval(365 * 86400)
        return SnapshotManifest(
            id: .timeOrdered(when), time: when, host: oldest.host, job: oldest.job, source: oldest.source, database: oldest.database,
            databaseChunkSize: oldest.databaseChunkSize, rowCounts: oldest.rowCounts, documents: documents, problems: oldest.problems,
            totalBytes: oldest.totalBytes, addedBytes: 0)
    }

    @Test func theNewestSnapshotIsTheNewestASignedHeadAccountsFor() throws {
        let f = try DisasterFixture()
        let forged = try forgery(f)
        try plant(forged, in: f)
        let out = f.file("by-hand")
        let r = try recover(f, to: out)
        #expect(r.status == 0, "\(r.all)")
        #expect(r.stderr.contains("passed by 1 snapshot") && r.stderr.contains(forged.id.hex), "\(r.all)")
        #expect(sameTree(f.expected.last!.data, out), "recover.py restored the newest real snapshot, not the forgery")
        var st = stat()
        #expect(stat(out, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(out + "/planner.db", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let documents = try #require(filesBelow(out + "/documents").first)
        #expect(stat(out + "/documents/" + documents, &st) == 0 && st.st_mode & 0o777 == 0o600, "documents/\(documents)")
    }

    @Test(arguments: ["../../ESCAPED.txt", "/tmp/leafguard-recover-escaped", "documents/./x", "documents//x"])
    func aForgedPathIsRefusedBeforeAnythingIsWritten(_ path: String) throws {
        let f = try DisasterFixture()
        let forged = try forgery(f, documentPath: path)
        try plant(forged, in: f)
        try FileManager.default.createDirectory(atPath: f.file("deep/out"), withIntermediateDirectories: true)
        let r = try recover(f, to: f.file("deep/out"), [forged.id.hex])
        #expect(r.status != 0 && r.stderr.contains("could land outside OUT_DIR"), "\(path): \(r.all)")
        #expect(filesBelow(f.file("deep")).isEmpty, "\(path): something was written")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/leafguard-recover-escaped"))
    }

    @Test func anOutDirThatIsALinkIsRefused() throws {
        let f = try DisasterFixture()
        try FileManager.default.createDirectory(atPath: f.file("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.file("link"), withDestinationPath: f.file("real"))
        let r = try recover(f, to: f.file("link"))
        #expect(r.status != 0 && r.stderr.contains("symbolic link"), "\(r.all)")
        #expect(filesBelow(f.file("real")).isEmpty)
    }
}
