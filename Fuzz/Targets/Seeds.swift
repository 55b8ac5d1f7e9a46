import Foundation
import LeafArchive
import LeafConfig
import LeafDeployment
import LeafJobs
@_spi(Fuzzing) import LeafRepository
import LeafSodium

/// Seed corpora for every target: real objects of a deployment (`leafguard demo --dir D`
/// makes one), decrypted manifests for the plaintext readers, and a few hand-written
/// samples for what a deployment does not keep (HTTP responses, S3 XML, credentials).
/// Seeds are generated, never committed: they hold a deployment's data.
enum Seeds {
    static func write(deployment root: String, to out: String) throws {
        let fm = FileManager.default
        var counts: [String: Int] = [:]
        func seed(_ target: String, _ bytes: [UInt8]) throws {
            let dir = out + "/" + target
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let n = counts[target, default: 0] + 1
            counts[target] = n
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/seed-\(n)"))
        }
        func files(_ dir: String, limit: Int = 12) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted().prefix(limit).map { dir + "/" + $0 }
        }
        func contents(_ path: String) -> [UInt8]? { fm.contents(atPath: path).map { [UInt8]($0) } }

        // Stored objects of one location, as they are.
        let loc = root + "/regions/primary/loc0"
        let shardFolders = files(loc + "/data", limit: 3)
        for dir in shardFolders.map({ String($0.dropFirst(loc.count + 1)) }) + ["index", "snapshots", "keys", "reports"] {
            for f in files(loc + "/" + dir, limit: 6) {
                if let b = contents(f) { try seed(f.contains("/keys/set-") ? "keyset" : "envelope", b) }
            }
        }
        for f in files(loc + "/keys", limit: 200) where f.contains("set-") { if let b = contents(f) { try seed("keyset", b) } }
        if let b = contents(loc + "/config") { try seed("envelope", b) }
        for path in [root + "/state/keys/keyring.json", loc + "/keyring"] { if let b = contents(path) { try seed("keyring", b) } }

        // Plaintexts, opened with the deployment's own key.
        let config = try ConfigLoader.load(path: root + "/leafguard.yml")
        let repo = try Deployment(config: config).repository("primary")
        for name in repo.listReplicated(prefix: "index/").prefix(4) {
            guard let id = ObjectID(hex: String(name.dropFirst(6))) else { continue }
            try seed("index", try repo.readSealed(name, kind: .index, id: id))
        }
        for id in repo.snapshotIDs().prefix(4) {
            try seed("snapshot", try repo.readSealed("snapshots/\(id.hex)", kind: .snapshot, id: id))
        }

        // The state folder's audit material.
        if let log = contents(root + "/state/audit/audit.log") {
            for line in log.split(separator: 10).prefix(20) { try seed("auditline", Array(line)) }
        }
        for f in files(root + "/state/audit", limit: 40) where f.contains("checkpoint") { if let b = contents(f) { try seed("checkpoint", b) } }
        for f in files(root + "/state/heads", limit: 6) { if let b = contents(f) { try seed("head", b) } }
        for f in files(root + "/state/audit/activity", limit: 6) { if let b = contents(f) { try seed("seal", b) } }

        // Configuration and jobs.
        if let b = contents(root + "/leafguard.yml") { try seed("config", b) }
        for f in files(root + "/jobs", limit: 20) {
            guard let b = contents(f) else { continue }
            try seed("job", b)
            for line in String(decoding: b, as: UTF8.self).split(separator: "\n") where line.hasPrefix("schedule:") {
                try seed("cron", Array(line.dropFirst(9).trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")).utf8))
            }
        }
        for c in ["*/15 * * * *", "0 3 * * 1-5", "@daily", "0 0 29 2 *", "5 4 L * *"] { try seed("cron", Array(c.utf8)) }

        // A key file: a fresh random key, raw and as base64 (never the deployment's own).
        let raw = Sodium.randomBytes(32)
        try seed("keyfile", raw)
        try seed("keyfile", Array((Data(raw).base64EncodedString() + "\n").utf8))

        // Packs: tar archives as backups write them, plain and zstd.
        for level in [nil, 3] as [Int?] {
            let w = try TarWriter(zstdLevel: level)
            try w.add(name: "blob-1", bytes: Array("first blob".utf8))
            try w.add(name: "blob-2", bytes: [UInt8](repeating: 0x41, count: 3000))
            try seed("tar", try w.finish())
        }

        // What an S3 endpoint answers.
        let list =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
            + "<IsTruncated>true</IsTruncated><NextContinuationToken>abc</NextContinuationToken><Contents><Key>p/index/1</Key><Size>10</Size></Contents>"
            + "<Contents><Key>p/keys/2</Key></Contents></ListBucketResult>"
        let error = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key does not exist</Message></Error>"
        try seed("s3xml", Array(list.utf8))
        try seed("s3xml", Array(error.utf8))
        try seed("http", Array("HTTP/1.1 200 OK\r\nContent-Length: \(list.utf8.count)\r\nContent-Type: application/xml\r\n\r\n\(list)".utf8))
        try seed(
            "http", Array("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\(String(error.utf8.count, radix: 16))\r\n\(error)\r\n0\r\n\r\n".utf8))
        try seed("http", Array("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".utf8))
        try seed(
            "kms",
            Array(
                #"{"CiphertextBlob":"AQIDAHgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","KeyId":"arn:aws:kms:eu-west-1:123456789012:key/1234","Plaintext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#
                    .utf8))
        try seed("kms", Array(#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Alias arn:aws:kms:eu-west-1:1:alias/x is not found."}"#.utf8))
        try seed("http", Array("HTTP/1.0 200 OK\r\n\r\nbody to the end".utf8))

        // Credentials as the planner stores them (compliance-rules.md).
        for c in [
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "$2b$12$abcdefghijklmnopqrstuu5ZIm8GAf3Y5lYk7tQmUH0c0ioBO4u",
            "pbkdf2_sha256$600000$salt$hash", "sha1$abc$def", "plain:password",
        ] {
            try seed("credential", Array(c.utf8))
        }
        for (target, n) in counts.sorted(by: { $0.key < $1.key }) { print("\(target): \(n) seed(s)") }
    }
}
