import Foundation
import LeafDigest
import LeafKeys
import LeafSodium
import LeafState

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
        let path = StateLayout(stateDirectory).auditPublicKey
        try FileManager.default.createDirectory(atPath: StateLayout(stateDirectory).keys, withIntermediateDirectories: true)
        let text = "ed25519 \(publicKeyHex) leafguard-audit\n"
        if (try? String(contentsOfFile: path, encoding: .utf8)) != text {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}

/// The audit keys of a deployment: the current one, which signs and seals from now on,
/// and every earlier one (the keyring's previous seeds), whose signatures and sealed log
/// segments stay valid. The leak playbook's `change-key` starts a new current key and signs
/// the handover with both (`Checkpoint.nextPublicKey`).
public struct AuditKeyChain: Sendable {
    /// The current signer.
    public let signer: AuditSigner
    /// Every public key whose signature is accepted, the current one first.
    public let publicKeys: [[UInt8]]
    /// Every key that may open a log segment, the current one first.
    public let segmentKeys: [SecureBytes]

    /// The chain of `current` and `previous` seeds (oldest first, as the keyring keeps them).
    public init(current: SecureBytes, previous: [SecureBytes]) throws {
        signer = try AuditSigner(seed: current)
        let seeds = [current] + previous.reversed()
        publicKeys = try seeds.map { try AuditSigner(seed: $0).pair.publicKey }
        segmentKeys = try seeds.map { try Self.segmentKey(seed: $0) }
    }

    /// The key that seals log segments under a seed (libsodium KDF, id 2, context `lgaudlog`).
    public static func segmentKey(seed: SecureBytes) throws -> SecureBytes { try KDF.derive(from: seed, id: 2, context: "lgaudlog") }

}

/// Whether `signature` of `message` verifies under any of `publicKeys` (an audit key chain's:
/// what an earlier key signed stays valid after a handover).
func signedByAny(_ signature: [UInt8], of message: [UInt8], publicKeys: [[UInt8]]) -> Bool {
    publicKeys.contains { Signature.verify(signature, of: message, publicKey: $0) }
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
    /// In a handover checkpoint only: the audit key that signs from here on (hex). Such a
    /// checkpoint has a third line, the new key's signature of the same JSON: the old key
    /// vouches for the new one and the new one accepts, so a verifier holding either key
    /// follows the chain across it.
    public var nextPublicKey: String?

    /// A checkpoint of a log `length` entries long ending in `head`, made at `at`.
    public init(length: Int, head: String, at: Date, publicKey: String) {
        self.length = length; self.head = head; self.publicKey = publicKey
        self.at = ISO8601DateFormatter().string(from: at)
    }

    /// Object name, in the state folder and in regions; zero-padded so names sort by length.
    public var name: String { "audit/checkpoint-\(String(format: "%012d", length))" }

    /// Two lines: the checkpoint's JSON, then the hex Ed25519 signature of exactly those bytes.
    public func signed(by signer: AuditSigner) throws -> [UInt8] { try signer.signedDocument(self) }

    /// A handover checkpoint: `nextPublicKey` set to `next`'s key, signed by `self`'s key
    /// (`signer`) on the second line and by `next` on the third.
    public func handover(by signer: AuditSigner, to next: AuditSigner) throws -> [UInt8] {
        var c = self
        c.nextPublicKey = next.publicKeyHex
        let two = try signer.signedDocument(c)
        let body = Array(two.split(separator: UInt8(ascii: "\n"))[0])
        return two + Array((next.sign(body).hexString + "\n").utf8)
    }

    /// Reads a signed checkpoint and checks its signature against `publicKey`.
    public static func open(_ bytes: [UInt8], publicKey: [UInt8]) throws -> Checkpoint {
        try open(bytes, publicKeys: [publicKey])
    }

    /// Reads a signed checkpoint whose signature verifies under one of `publicKeys` (an
    /// `AuditKeyChain`'s). A handover checkpoint must also carry the next key's signature.
    public static func open(_ bytes: [UInt8], publicKeys: [[UInt8]]) throws -> Checkpoint {
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        guard lines.count == 2 || lines.count == 3, let c = try? JSONDecoder().decode(Checkpoint.self, from: Data(lines[0])) else {
            throw AuditError("not a checkpoint")
        }
        let body = Array(lines[0])
        guard let sig = [UInt8](hexString: String(decoding: lines[1], as: UTF8.self)),
            let signer = publicKeys.first(where: { Signature.verify(sig, of: body, publicKey: $0) }), c.publicKey == signer.hexString
        else {
            throw AuditError("checkpoint \(c.length) (\(c.at)) is not signed by this deployment's audit key \(publicKeys.first?.hexString.prefix(16) ?? "")…")
        }
        switch (c.nextPublicKey, lines.count) {
        case (nil, 2): return c
        case (let next?, 3):
            guard let nextKey = [UInt8](hexString: next), let sig = [UInt8](hexString: String(decoding: lines[2], as: UTF8.self)),
                Signature.verify(sig, of: body, publicKey: nextKey)
            else { throw AuditError("handover checkpoint \(c.length) (\(c.at)) is not signed by the key it hands over to") }
            return c
        default: throw AuditError("checkpoint \(c.length) (\(c.at)) is malformed: a handover has three lines, any other checkpoint two")
        }
    }
}

/// Reads and writes checkpoints in the state folder; regions get copies from the caller.
public struct CheckpointStore: Sendable {
    /// `STATE/audit`, where the checkpoints are kept.
    public let directory: String
    /// The checkpoints of the state folder `stateDirectory`.
    public init(stateDirectory: String) { directory = StateLayout(stateDirectory).audit }

    /// Signs and stores a checkpoint of the log as it is now; returns its name and bytes.
    @discardableResult
    public func write(log: AuditLog, signer: AuditSigner, at: Date = Date()) throws -> (name: String, bytes: [UInt8])? {
        try store(log: log, at: at, publicKey: signer.publicKeyHex, replacing: false) { try $0.signed(by: signer) }
    }

    /// Signs and stores a handover checkpoint of the log as it is now: signed by `old` and by
    /// `new`, naming `new` as the key from here on. Nil when the log is empty. It takes the
    /// place of a plain checkpoint of the same length, if one exists.
    public func writeHandover(log: AuditLog, from old: AuditSigner, to new: AuditSigner, at: Date = Date()) throws -> (name: String, bytes: [UInt8])? {
        try store(log: log, at: at, publicKey: old.publicKeyHex, replacing: true) { try $0.handover(by: old, to: new) }
    }

    /// A checkpoint of the log's entries, signed by `sign`, kept under its name (an existing
    /// one is kept unless `replacing`). The entries themselves, by sequence: a junk line in
    /// the file is no entry (audit verify names it); counting it made the next verify report
    /// a truncation.
    private func store(
        log: AuditLog, at: Date, publicKey: String, replacing: Bool, sign: (Checkpoint) throws -> [UInt8]
    ) throws -> (name: String, bytes: [UInt8])? {
        let v = try log.verify(checkpoint: nil)
        guard v.lastSequence > 0 else { return nil }
        let c = Checkpoint(length: v.lastSequence, head: v.lastSequenceHash, at: at, publicKey: publicKey)
        let bytes = try sign(c)
        let path = directory + "/" + c.name.replacingOccurrences(of: "audit/", with: "")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if replacing || !FileManager.default.fileExists(atPath: path) { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) }
        return (c.name, bytes)
    }

    /// Every checkpoint file here: name → bytes.
    public func all() -> [(String, [UInt8])] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("checkpoint-") }.sorted()
        return names.compactMap { n in FileManager.default.contents(atPath: directory + "/" + n).map { ("audit/" + n, [UInt8]($0)) } }
    }
}
