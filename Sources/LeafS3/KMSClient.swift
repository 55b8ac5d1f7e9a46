import Foundation
import LeafDigest
import LeafSodium

/// Where AWS KMS requests go: AWS's endpoint for a region, or a server on loopback (moto).
public struct KMSEndpoint: Sendable {
    /// e.g. https://kms.eu-west-1.amazonaws.com.
    public let url: URL
    /// The region requests are signed for.
    public let region: String

    /// An endpoint at `url` for `region`.
    public init(url: URL, region: String) { self.url = url; self.region = region }

    /// AWS's own endpoint for `region`; nil when the name cannot be part of a host name.
    public static func aws(region: String) -> KMSEndpoint? {
        URL(string: "https://kms.\(region).amazonaws.com").map { KMSEndpoint(url: $0, region: region) }
    }
}

/// Why a KMS request failed, naming the key and the operation, with what to do.
public struct KMSError: Error, CustomStringConvertible, Sendable {
    /// The operation (`GenerateDataKey`, `Decrypt`, …).
    public let operation: String
    /// The key it named.
    public let key: String
    /// KMS's error type (`NotFoundException`, …), or `transport`.
    public let type: String
    /// KMS's message, one line.
    public let message: String
    /// Worth asking again later (throttling, a server error, no answer).
    public let transient: Bool

    /// The operation, the key, KMS's words and a hint for the usual causes.
    public var description: String {
        let hint: String
        switch type {
        case "NotFoundException": hint = "no such key in this account and region: check keys.master and keys.kms.region"
        case "DisabledException": hint = "the key is disabled: enable it in KMS, or move to another key with 'keys change-key'"
        case "KMSInvalidStateException": hint = "the key is pending deletion or not usable: cancel the deletion in KMS"
        case "InvalidCiphertextException":
            hint = "the ciphertext or its encryption context does not match (another repository's or another key's data key?)"
        case "IncorrectKeyException": hint = "the ciphertext was made under another KMS key than the one configured"
        case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
            hint = "the credentials may not use this key: grant kms:\(operation) on it (docs/aws.md), or check the credentials"
        default: hint = transient ? "a transient failure: retried, then given up" : ""
        }
        return "KMS \(operation) with key \(key): \(type)\(message.isEmpty ? "" : ": " + message)\(hint.isEmpty ? "" : " (\(hint))")"
    }
}

/// A data key KMS made: its plaintext (for this process only, in wiped memory) and the
/// ciphertext blob to keep, which only KMS can open again.
public struct KMSDataKey: Sendable {
    /// The 32-byte key.
    public let plaintext: SecureBytes
    /// KMS's ciphertext of it, to store.
    public let ciphertext: [UInt8]
    /// The key's ARN as KMS names it.
    public let keyARN: String
}

/// AWS KMS through leafguard's own SigV4 (service `kms`) and the JSON 1.1 protocol
/// (`X-Amz-Target: TrentService.OPERATION`): the operations a KMS-wrapped master key needs.
/// Replies are read within 64 KiB; plaintext keys go straight into wiped memory.
public final class KMSClient: Sendable {
    /// Where requests go.
    public let endpoint: KMSEndpoint
    let signer: SigV4Signer
    let transport: AWSTransport
    /// The largest reply read: KMS's replies are a few hundred bytes.
    static let maximumReply = 64 << 10

    /// A client of `endpoint` signing with `credentials`.
    public init(
        endpoint: KMSEndpoint, credentials: AWSCredentials,
        pace: TransferPace = TransferPace(idleTimeout: 30, deadline: 120, minimumRate: 0, grace: 30)
    ) {
        self.endpoint = endpoint
        signer = SigV4Signer(credentials: credentials, region: endpoint.region, service: "kms")
        transport = AWSTransport(
            url: endpoint.url, plainHTTP: endpoint.url.scheme == "http", maxConnections: 4, pace: pace, maximumResponseBytes: Self.maximumReply)
    }

    /// A new 256-bit data key under `keyID` (an id, ARN or `alias/NAME`), bound to `context`.
    public func generateDataKey(keyID: String, context: [String: String]) throws -> KMSDataKey {
        let (reply, plaintext) = try call(
            "GenerateDataKey", key: keyID, ["KeyId": keyID, "KeySpec": "AES_256", "EncryptionContext": context], takingPlaintext: true)
        return try Self.dataKey(from: reply, plaintext: plaintext, operation: "GenerateDataKey", key: keyID)
    }

    /// The plaintext of `ciphertext`, which must have been made under `keyID` with `context`.
    public func decrypt(_ ciphertext: [UInt8], keyID: String, context: [String: String]) throws -> SecureBytes {
        let (_, plaintext) = try call(
            "Decrypt", key: keyID, ["CiphertextBlob": Data(ciphertext).base64EncodedString(), "KeyId": keyID, "EncryptionContext": context],
            takingPlaintext: true)
        return try Self.required(plaintext, operation: "Decrypt", key: keyID)
    }

    /// `ciphertext` (made under `fromKey` with `context`) re-encrypted under `toKey`, without
    /// the plaintext leaving KMS: how a deployment moves to another KMS key.
    public func reEncrypt(_ ciphertext: [UInt8], fromKey: String, toKey: String, context: [String: String]) throws -> [UInt8] {
        let (reply, _) = try call(
            "ReEncrypt", key: toKey,
            [
                "CiphertextBlob": Data(ciphertext).base64EncodedString(), "SourceKeyId": fromKey, "DestinationKeyId": toKey,
                "SourceEncryptionContext": context, "DestinationEncryptionContext": context,
            ])
        guard let blob = reply["CiphertextBlob"] as? String, let bytes = Data(base64Encoded: blob), !bytes.isEmpty else {
            throw KMSError(operation: "ReEncrypt", key: toKey, type: "MalformedReply", message: "no CiphertextBlob in the reply", transient: false)
        }
        return [UInt8](bytes)
    }

    /// Sends one operation and returns its JSON reply; a failure is a `KMSError`. With
    /// `takingPlaintext`, the reply's `Plaintext` is decoded straight into wiped memory and
    /// blanked in the reply before the JSON is read, and the reply's bytes are wiped.
    func call(_ operation: String, key: String, _ body: [String: Any], takingPlaintext: Bool = false) throws -> (
        reply: [String: Any], plaintext: SecureBytes?
    ) {
        let payload = [UInt8](try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        guard let components = URLComponents(url: endpoint.url, resolvingAgainstBaseURL: false), let host = components.host else {
            throw KMSError(operation: operation, key: key, type: "BadEndpoint", message: "\(endpoint.url) is not a URL", transient: false)
        }
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        let payloadHash = SHA256.hash(payload).hexString
        let signed = [
            "host": hostHeader, "content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.\(operation)",
        ]
        let (auth, amzDate) = signer.authorization(method: "POST", path: "/", query: [], headers: signed, payloadHash: payloadHash, date: Date())
        var headers: [(String, String)] = [
            ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.\(operation)"), ("x-amz-date", amzDate),
            ("Authorization", auth), ("Content-Length", String(payload.count)),
        ]
        if let token = signer.credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        let name = "KMS \(operation)"
        guard let url = URL(string: "\(components.scheme ?? "https")://\(hostHeader)/") else {
            throw KMSError(operation: operation, key: key, type: "BadEndpoint", message: "\(endpoint.url) is not a URL", transient: false)
        }
        let response: S3Response
        do {
            response = try transport.exchange(
                "POST", scheme: components.scheme ?? "https", hostHeader: hostHeader, target: "/", url: url, headers: headers, body: payload,
                hasBody: true, limit: Self.maximumReply, name: name)
        } catch let e as S3Error {
            throw KMSError(operation: operation, key: key, type: "transport", message: e.description, transient: true)
        }
        var bytes = response.body
        defer { Sodium.wipe(&bytes) }
        let plaintext = takingPlaintext && (200..<300).contains(response.status) ? Self.takePlaintext(&bytes) : nil
        return (try Self.reply(response.status, bytes, operation: operation, key: key), plaintext)
    }

    /// The 32-byte key a reply's `"Plaintext": "BASE64"` carries, decoded into wiped memory;
    /// its base64 in `body` is overwritten with `A`s, so no copy of it survives the JSON
    /// reading. Nil when the reply has no such member.
    static func takePlaintext(_ body: inout [UInt8]) -> SecureBytes? {
        let name = Array("\"Plaintext\"".utf8)
        guard body.count > name.count, let at = (0...(body.count - name.count)).first(where: { body[$0..<($0 + name.count)].elementsEqual(name) })
        else { return nil }
        var i = at + name.count
        while i < body.count, body[i] == UInt8(ascii: " ") || body[i] == UInt8(ascii: ":") || body[i] == UInt8(ascii: "\n") { i += 1 }
        guard i < body.count, body[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        guard let end = body[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        let secret = body.withUnsafeBytes { SecureBytes.decodingBase64(UnsafeRawBufferPointer(rebasing: $0[start..<end]), count: 32) }
        for j in start..<end { body[j] = UInt8(ascii: "A") }
        return secret
    }

    /// `plaintext`, or the error saying the reply carried none.
    static func required(_ plaintext: SecureBytes?, operation: String, key: String) throws -> SecureBytes {
        guard let plaintext else {
            throw KMSError(operation: operation, key: key, type: "MalformedReply", message: "no 32-byte Plaintext in the reply", transient: false)
        }
        return plaintext
    }

    /// A reply's JSON object, or the `KMSError` its status and `__type` say. Reads nothing
    /// but the bytes given (the fuzz target's entry).
    static func reply(_ status: Int, _ body: [UInt8], operation: String, key: String) throws -> [String: Any] {
        let object = (try? JSONSerialization.jsonObject(with: Data(body), options: [])) as? [String: Any]
        guard (200..<300).contains(status) else {
            // `__type` may carry a namespace ("com.amazonaws.kms#NotFoundException").
            let type = (object?["__type"] as? String).map { String($0.split(separator: "#").last ?? "") } ?? "HTTP \(status)"
            let message = (object?["message"] as? String) ?? (object?["Message"] as? String) ?? ""
            throw KMSError(
                operation: operation, key: key, type: S3Client.printable(type, limit: 64), message: S3Client.printable(message, limit: 512),
                transient: status >= 500 || status == 429 || type == "ThrottlingException")
        }
        guard let object else {
            throw KMSError(operation: operation, key: key, type: "MalformedReply", message: "the reply is not a JSON object", transient: false)
        }
        return object
    }

    static func dataKey(from reply: [String: Any], plaintext: SecureBytes?, operation: String, key: String) throws -> KMSDataKey {
        let plaintext = try required(plaintext, operation: operation, key: key)
        guard let blob = reply["CiphertextBlob"] as? String, let ciphertext = Data(base64Encoded: blob), !ciphertext.isEmpty else {
            throw KMSError(operation: operation, key: key, type: "MalformedReply", message: "no CiphertextBlob in the reply", transient: false)
        }
        return KMSDataKey(plaintext: plaintext, ciphertext: [UInt8](ciphertext), keyARN: reply["KeyId"] as? String ?? key)
    }
}
