import Foundation
import LeafDigest
import LeafSodium

/// AWS credentials. The secret is kept in guarded memory and never printed.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    /// The access key id (not secret: it names the key in requests and logs).
    public let accessKeyID: String
    let secret: SecureBytes
    /// The session token of temporary credentials, sent with each request.
    public let sessionToken: String?

    /// Credentials whose secret is moved into guarded memory at once.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) throws {
        var bytes = Array(secretAccessKey.utf8)
        self.accessKeyID = accessKeyID
        self.secret = try SecureBytes(consuming: &bytes)
        self.sessionToken = sessionToken
    }

    /// The access key id only: the secret is never printed.
    public var description: String { "AWS credentials \(accessKeyID) <redacted>" }
}

/// AWS Signature Version 4 (the "AWS4-HMAC-SHA256" header form), as AWS documents it:
/// canonical request, string to sign, a signing key derived per day, region and service.
public struct SigV4Signer: Sendable {
    /// Whose requests are signed.
    public let credentials: AWSCredentials
    /// The region in the credential scope.
    public let region: String
    /// The service in the credential scope (`s3`).
    public let service: String

    /// A signer for `service` in `region`.
    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials; self.region = region; self.service = service
    }

    /// The headers to add to a request: `Authorization`, `x-amz-date` and, when the caller
    /// put it in `headers`, whatever else it signs. `headers` must hold `host` and every
    /// header to sign (names in any case); `payloadHash` is the hex SHA-256 of the body.
    public func authorization(
        method: String, path: String, query: [(String, String)], headers: [String: String],
        payloadHash: String, date: Date
    ) -> (authorization: String, amzDate: String) {
        let amzDate = Self.amzDate(date)
        let day = String(amzDate.prefix(8))
        var canonicalHeaders: [(String, String)] = headers.map { ($0.key.lowercased(), Self.trim($0.value)) }
        canonicalHeaders.append(("x-amz-date", amzDate))
        if let token = credentials.sessionToken { canonicalHeaders.append(("x-amz-security-token", token)) }
        canonicalHeaders.sort { $0.0 < $1.0 }
        let signedHeaders = canonicalHeaders.map(\.0).joined(separator: ";")
        var encodedQuery: [(String, String)] = query.map { (Self.uriEncode($0.0, slash: true), Self.uriEncode($0.1, slash: true)) }
        encodedQuery.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
        let canonicalQuery: String = encodedQuery.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let headerLines: String = canonicalHeaders.map { "\($0.0):\($0.1)\n" }.joined()
        let canonicalPath: String = Self.uriEncode(path.isEmpty ? "/" : path, slash: false)
        let canonicalRequest: String = [method, canonicalPath, canonicalQuery, headerLines, signedHeaders, payloadHash].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256.hash(Array(canonicalRequest.utf8)).hexString].joined(separator: "\n")
        let signature = HMACSHA256.mac(key: signingKey(day: day), message: stringToSign).hexString
        return ("AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)", amzDate)
    }

    /// HMAC chain from "AWS4" + secret over the day, region, service and "aws4_request".
    func signingKey(day: String) -> [UInt8] {
        var seed = Array("AWS4".utf8)
        credentials.secret.withUnsafeBytes { seed.append(contentsOf: $0) }
        defer { Sodium.wipe(&seed) }
        var key = HMACSHA256.mac(key: seed, message: day)
        for part in [region, service, "aws4_request"] { key = HMACSHA256.mac(key: key, message: part) }
        return key
    }

    static func amzDate(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters (and '/' in paths).
    static func uriEncode(_ s: String, slash: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where !slash: out += "/"
            default: out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// Header values with leading/trailing spaces removed and inner runs of spaces collapsed.
    static func trim(_ v: String) -> String {
        v.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

extension AWSCredentials {
    /// The standard sources: with `profile`, that profile of the shared credentials file
    /// (`AWS_SHARED_CREDENTIALS_FILE`, default ~/.aws/credentials); else the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`), then the
    /// profile named by `AWS_PROFILE` or `default`.
    public static func load(profile: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AWSCredentials {
        if profile == nil, let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"], !id.isEmpty {
            return try AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        }
        let name = profile ?? environment["AWS_PROFILE"] ?? "default"
        let file = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.aws/credentials")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw S3Error.transport(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write profile '\(name)' in \(file)", request: "credentials")
        }
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces); continue }
            guard section == name, !line.hasPrefix("#"), !line.hasPrefix(";"), let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw S3Error.transport("profile '\(name)' in \(file) has no aws_access_key_id and aws_secret_access_key", request: "credentials")
        }
        return try AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}
