import CFuzz
// Every decoder of bytes leafguard did not just write, as a libFuzzer target.
//
//   make fuzz                          builds with -sanitize=fuzzer,address and runs each
//                                      target for FUZZ_SECONDS (docs/fuzzing.md)
//   leafguard-fuzz TARGET FILE…        (the ordinary debug build) runs files through a
//                                      target once: how FuzzCorpusTests replays the seed
//                                      corpus and every crash ever found
//   leafguard-fuzz seed DEPLOYMENT OUT writes seed corpora from a deployment's real objects
//
// A target returns normally for every input: a thrown error is the expected answer to bad
// bytes; a trap, a hang or an out-of-memory is a defect.
import Foundation
import LeafArchive
@_spi(Fuzzing) import LeafAudit
import LeafBackup
@_spi(Fuzzing) import LeafCompliance
@_spi(Fuzzing) import LeafConfig
import LeafCron
import LeafJobs
@_spi(Fuzzing) import LeafKeys
@_spi(Fuzzing) import LeafRepository
@_spi(Fuzzing) import LeafS3
import LeafSodium

#if canImport(Glibc)
    import Glibc
#endif

/// A fixed key: stored objects do not open under it, but everything before the tag check
/// runs, and inputs the fuzzer forges under it run the rest.
let fixedKey: SecureBytes = {
    var bytes = [UInt8](repeating: 7, count: 32)
    return (try? SecureBytes(consuming: &bytes)) ?? { fatalError("libsodium memory") }()
}()

let scratch: String = {
    let dir = NSTemporaryDirectory() + "leafguard-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

let jobConfig: LeafguardConfig? = try? ConfigLoader.parse(
    """
    data: data
    state: state
    keys: {master: env:FUZZ_KEY}
    regions:
      primary: {backend: local, path: r1, locations: 6}
      backup: {backend: local, path: r2, locations: 6}
    """, file: scratch + "/leafguard.yml")

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Each target by name. Keep the names in docs/fuzzing.md and the Makefile's list.
let targets: [String: @Sendable ([UInt8]) -> Void] = [
    // Envelope header of every stored object, then the AEAD open.
    "envelope": { bytes in
        guard let h = try? EnvelopeHeader.decode(bytes) else { return }
        _ = try? Envelope.open(bytes, header: h, key: fixedKey)
    },
    // A key set's sealed form, and its plaintext layout (entries, then each data key).
    "keyset": { bytes in RepositoryFuzzing.keySet(bytes, key: fixedKey) },
    // An index object's plaintext, and what readers compute from its entries.
    "index": { bytes in
        guard let index = try? IndexManifest.decode(bytes) else { return }
        for p in index.packs { _ = p.storedBytes }
    },
    // A snapshot object's plaintext, and restore's path check on every path.
    "snapshot": { bytes in
        guard let s = try? SnapshotManifest.decode(bytes) else { return }
        for f in [s.database] + s.documents { _ = try? RestorePathCheck.check(f.path) }
    },
    // The keyring file (state folder or region copy): generation, passphrase limits, open.
    "keyring": { bytes in
        _ = Keyring.claimedGeneration(bytes)
        _ = Keyring.passphraseParameters(in: bytes)
        _ = Keyring.authenticatedGeneration(of: bytes, keyringKey: MasterKey(version: 1, secret: fixedKey))
        _ = try? Keyring.open(
            stateDirectory: scratch + "/none", keyringKey: MasterKey(version: 1, secret: fixedKey),
            copies: [KeyringCopy(source: "fuzz", bytes: bytes)])
    },
    // A key file (keys.master: file:PATH).
    "keyfile": { bytes in _ = try? MasterKeySource.decode(Data(bytes), origin: "fuzz") },
    // One line of the audit log.
    "auditline": { bytes in _ = AuditLog.parse(bytes) },
    // A signed audit checkpoint.
    "checkpoint": { bytes in _ = try? Checkpoint.open(bytes, publicKey: [UInt8](repeating: 3, count: 32)) },
    // A region head (signed list of what a region should hold).
    "head": { bytes in _ = RegionHead.open(bytes, publicKey: [UInt8](repeating: 3, count: 32)) },
    // An activity seal file.
    "seal": { bytes in _ = AuditFuzzing.parseSeal(bytes) },
    // A pack's tar archive (zstd or not), through libarchive.
    "tar": { bytes in _ = try? TarReader.forEachEntry(in: bytes) { _, _ in } },
    // An HTTP/1.1 response from an S3 endpoint, through a socket pair.
    "http": { bytes in
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { return }
        defer { close(fds[0]) }
        var size: Int32 = Int32(max(bytes.count + 4096, 65536))
        _ = setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let sent = bytes.withUnsafeBytes { send(fds[1], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fds[1])
        guard sent == bytes.count else { return }
        _ = try? S3Fuzzing.receiveResponse(fds[0], timeout: 1)
    },
    // S3 XML answers: listings, errors, multipart replies.
    "s3xml": { bytes in
        let t = text(bytes)
        for name in ["Key", "Code", "Message", "NextContinuationToken", "IsTruncated", "UploadId", "ETag"] { _ = S3Fuzzing.xmlElements(name, in: t) }
    },
    // A KMS reply (JSON 1.1): a data key, or an error's type and message.
    "kms": { bytes in S3Fuzzing.kmsReply(bytes) },
    // leafguard.yml.
    "config": { bytes in _ = try? ConfigLoader.parse(text(bytes), file: scratch + "/leafguard.yml") },
    // A job file, checked against this build's steps.
    "job": { bytes in
        guard let config = jobConfig else { return }
        _ = JobLoader(config: config).parse(text(bytes), file: scratch + "/jobs/fuzz.yml", diagnostics: Diagnostics())
    },
    // A cron expression, and its next fire times (a possible endless search).
    "cron": { bytes in
        guard let c = try? CronExpression(text(bytes)) else { return }
        _ = c.nextFireTimes(after: Date(timeIntervalSince1970: 1_800_000_000), count: 3, timeZone: TimeZone(identifier: "UTC") ?? .current)
    },
    // A credential value from the planner's users table (what the scan classifies).
    "credential": { bytes in ComplianceFuzzing.classifyCredential(bytes) },
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { [UInt8](UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected?(bytes)
    return 0
}

nonisolated(unsafe) var selected: (@Sendable ([UInt8]) -> Void)?

@main struct FuzzMain {
    static func main() {
        var args = CommandLine.arguments
        guard args.count >= 2 else { usage() }
        let name = args[1]
        if name == "seed" {
            guard args.count == 4 else { usage() }
            do { try Seeds.write(deployment: args[2], to: args[3]) } catch {
                FileHandle.standardError.write(Data("seed: \(error)\n".utf8)); exit(1)
            }
            return
        }
        if name == "list" { print(targets.keys.sorted().joined(separator: "\n")); return }
        guard let target = targets[name] else {
            FileHandle.standardError.write(Data("unknown target '\(name)'; targets: \(targets.keys.sorted().joined(separator: ", "))\n".utf8))
            exit(2)
        }
        selected = target
        args.remove(at: 1)
        #if LEAFGUARD_LIBFUZZER
            var argc = Int32(args.count)
            let cStrings = args.map { strdup($0) } + [nil]
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = UnsafeMutablePointer(mutating: cStrings)
            exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
        #else
            // Replay: every file named (or every file in a folder named) once.
            var count = 0
            for path in args.dropFirst() {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                let files =
                    isDirectory.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
                for file in files {
                    guard let data = FileManager.default.contents(atPath: file) else { continue }
                    target([UInt8](data))
                    count += 1
                }
            }
            print("\(name): \(count) input(s) replayed")
        #endif
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: leafguard-fuzz TARGET [FILE|DIR…] | seed DEPLOYMENT OUT | list\n".utf8))
        exit(2)
    }
}
