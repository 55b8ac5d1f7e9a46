import Foundation
import LeafDigest
import LeafKeys
import LeafSodium

/// The audit signing key: an Ed25519 key pair whose seed is derived from the configured
/// key (libsodium KDF, context `lgaudit1`) and, once a keyring file exists, kept sealed in
/// it, so it outlives rotations and passphrase changes and nothing new can be lost. Its public key is published in `STATE/keys/audit-signing.pub` and in each region.
public struct AuditSigner: Sendable {
    /// The Ed25519 key pair.
    public let pair: Signature.KeyPair
    /// The public key in hex, as published and recorded in every checkpoint.
    public var publicKeyHex: String { pair.publicKey.hexString }

    /// The signer of a deployment without a keyring file: its seed derived from `master`.
    public init(master: MasterKey) throws {
        try self.init(seed: try Self.seed(from: master.secret))
    }

    /// A signer from its 32-byte seed (the keyring keeps it: `Keyring.auditSeed`).
    public init(seed: SecureBytes) throws {
        pair = try Signature.keyPair(seed: seed)
    }

    /// The seed derived from a configured key: what a deployment without a keyring file uses.
    public static func seed(from key: SecureBytes) throws -> SecureBytes {
        try KDF.derive(from: key, id: 1, context: "lgaudit1")
    }

    /// The Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] { Signature.sign(message, with: pair) }

    /// The signed form of checkpoints and region heads: two lines, the value's JSON (sorted
    /// keys), then the hex Ed25519 signature of exactly those bytes.
    public func signedDocument<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let body = [UInt8](try e.encode(value))
        return body + [UInt8(ascii: "\n")] + Array((sign(body).hexString + "\n").utf8)
    }

    /// Writes the public key file (0644: it is public) if it is missing or different.
    public func publish(stateDirectory: String) throws {
        let path = stateDirectory + "/keys/audit-signing.pub"
        try FileManager.default.createDirectory(atPath: stateDirectory + "/keys", withIntermediateDirectories: true)
        let text = "ed25519 \(publicKeyHex) leafguard-audit\n"
        if (try? String(contentsOfFile: path, encoding: .utf8)) != text {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}

/// A signed statement of the audit log's length and head hash at a moment.
public struct Checkpoint: Codable, Sendable, Equatable {
    /// Always `leafguard-audit-checkpoint-v1`.
    public var format = "leafguard-audit-checkpoint-v1"
    /// Entries in the log at that moment.
    public var length: Int
    /// The hash of the log's last entry then.
    public var head: String
    /// When the checkpoint was made (ISO 8601).
    public var at: String
    /// The signing public key (hex), so a checkpoint names the key that must verify it.
    public var publicKey: String

    /// A checkpoint of a log `length` entries long ending in `head`, made at `at`.
    public init(length: Int, head: String, at: Date, publicKey: String) {
        self.length = length; self.head = head; self.publicKey = publicKey
        self.at = ISO8601DateFormatter().string(from: at)
    }

    /// Object name, in the state folder and in regions; zero-padded so names sort by length.
    public var name: String { "audit/checkpoint-\(String(format: "%012d", length))" }

    /// Two lines: the checkpoint's JSON, then the hex Ed25519 signature of exactly those bytes.
    public func signed(by signer: AuditSigner) throws -> [UInt8] { try signer.signedDocument(self) }

    /// Reads a signed checkpoint and checks its signature against `publicKey`.
    public static func open(_ bytes: [UInt8], publicKey: [UInt8]) throws -> Checkpoint {
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        guard lines.count == 2, let c = try? JSONDecoder().decode(Checkpoint.self, from: Data(lines[0])) else {
            throw AuditError("not a checkpoint")
        }
        guard let sig = [UInt8](hexString: String(decoding: lines[1], as: UTF8.self)),
            Signature.verify(sig, of: Array(lines[0]), publicKey: publicKey)
        else {
            throw AuditError("checkpoint \(c.length) (\(c.at)) is not signed by this deployment's audit key \(publicKey.hexString.prefix(16))…")
        }
        return c
    }
}

/// Reads and writes checkpoints in the state folder; regions get copies from the caller.
public struct CheckpointStore: Sendable {
    /// `STATE/audit`, where the checkpoints are kept.
    public let directory: String
    /// The checkpoints of the state folder `stateDirectory`.
    public init(stateDirectory: String) { directory = stateDirectory + "/audit" }

    /// Signs and stores a checkpoint of the log as it is now; returns its name and bytes.
    @discardableResult
    public func write(log: AuditLog, signer: AuditSigner, at: Date = Date()) throws -> (name: String, bytes: [UInt8])? {
        let v = try log.verify(checkpoint: nil)
        // The entries themselves, by sequence: a junk line in the file is no entry (audit
        // verify names it); counting it made the next verify report a truncation.
        guard v.lastSequence > 0 else { return nil }
        let c = Checkpoint(length: v.lastSequence, head: v.lastSequenceHash, at: at, publicKey: signer.publicKeyHex)
        let bytes = try c.signed(by: signer)
        let path = directory + "/" + c.name.replacingOccurrences(of: "audit/", with: "")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) }
        return (c.name, bytes)
    }

    /// Every checkpoint file here: name → bytes.
    public func all() -> [(String, [UInt8])] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("checkpoint-") }.sorted()
        return names.compactMap { n in FileManager.default.contents(atPath: directory + "/" + n).map { ("audit/" + n, [UInt8]($0)) } }
    }
}
