import Foundation
import LeafConcurrency
import LeafDigest

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where a location's objects live in S3: a bucket, and a prefix inside it.
public struct S3Location: Sendable, Equatable {
    /// The bucket's name.
    public let bucket: String
    /// The prefix every object name of the location starts with (empty for a bucket of its own).
    public let prefix: String
    /// The location `prefix` in `bucket`.
    public init(bucket: String, prefix: String) { self.bucket = bucket; self.prefix = prefix }
}

/// One S3 endpoint and how to talk to it.
public struct S3Endpoint: Sendable {
    /// e.g. https://s3.eu-west-1.amazonaws.com, or http://127.0.0.1:5001 for a server on loopback.
    public let url: URL
    /// The region requests are signed for, e.g. `eu-west-1`.
    public let region: String
    /// Path-style (`endpoint/bucket/key`) or virtual-hosted (`bucket.endpoint/key`) addressing.
    public let pathStyle: Bool

    /// An endpoint at `url` for `region`, with path-style or virtual-hosted addressing.
    public init(url: URL, region: String, pathStyle: Bool) { self.url = url; self.region = region; self.pathStyle = pathStyle }

    /// AWS's own endpoint for `region`; nil when the region's name cannot be part of a host name.
    public static func aws(region: String) -> S3Endpoint? {
        URL(string: "https://s3.\(region).amazonaws.com").map { S3Endpoint(url: $0, region: region, pathStyle: false) }
    }
}

/// Why an S3 request failed, in words that say what to do.
public enum S3Error: Error, CustomStringConvertible, Sendable {
    case status(code: Int, awsCode: String, message: String, request: String)
    case transport(String, request: String)

    /// The request, S3's code and message, and a hint for the usual causes.
    public var description: String {
        switch self {
        case .status(let code, let awsCode, let message, let request):
            var hint = ""
            switch awsCode {
            case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken":
                hint = " (check the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile in leafguard.yml)"
            case "NoSuchBucket": hint = " (create the bucket, or fix the bucket name in leafguard.yml)"
            default: break
            }
            return "\(request): HTTP \(code) \(awsCode)\(message.isEmpty ? "" : ": " + message)\(hint)"
        case .transport(let text, let request): return "\(request): \(text)"
        }
    }

    var code: Int? { if case .status(let c, _, _, _) = self { return c }; return nil }
    var awsCode: String? { if case .status(_, let c, _, _) = self { return c }; return nil }
}

/// A response: status, headers (lower-cased names) and body.
struct S3Response {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]

    /// A server error or throttling (429, 503, 400 SlowDown): worth asking again later.
    var isTransientFailure: Bool {
        status >= 500 || status == 429 || (status == 400 && String(decoding: body, as: UTF8.self).contains("SlowDown"))
    }
}

/// Signed S3 requests over HTTP, one attempt each: retries are the job of RetryingStore,
/// which S3Store's transient failures (5xx, throttling, transport errors) feed.
public final class S3Client: Sendable {
    /// Where requests go.
    public let endpoint: S3Endpoint
    let signer: SigV4Signer
    let session: URLSession
    /// Seconds a request may take before it fails (transiently).
    public let timeout: TimeInterval

    /// Plain-HTTP path-style endpoints bypass URLSession (see `PlainHTTPPool`).
    private let plain: PlainHTTPPool?

    /// A client of `endpoint` signing with `credentials`, at most `maxConnections` connections to it.
    public init(endpoint: S3Endpoint, credentials: AWSCredentials, maxConnections: Int = 16, timeout: TimeInterval = 60) {
        self.endpoint = endpoint
        self.timeout = timeout
        signer = SigV4Signer(credentials: credentials, region: endpoint.region)
        if endpoint.url.scheme == "http", endpoint.pathStyle, let host = endpoint.url.host {
            plain = PlainHTTPPool(host: host, port: endpoint.url.port ?? 80, timeout: 60)
        } else {
            plain = nil
        }
        let config = URLSessionConfiguration.ephemeral
        config.httpMaximumConnectionsPerHost = maxConnections
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        session = URLSession(configuration: config)
    }

    /// Sends one request and returns the response, whatever its status: callers decide what
    /// 404 or 412 mean. Throws `S3Error.transport` when no response came.
    func send(
        _ method: String, bucket: String, key: String, query: [(String, String)] = [], headers extra: [String: String] = [:],
        body: [UInt8] = []
    ) throws -> S3Response {
        try sendOnce(method, bucket: bucket, key: key, query: query, headers: extra, body: body)
    }

    private func sendOnce(
        _ method: String, bucket: String, key: String, query: [(String, String)], headers extra: [String: String],
        body: [UInt8]
    ) throws -> S3Response {
        // Path-style: /bucket/key on the endpoint; virtual-hosted: /key on bucket.endpoint.
        guard let components = URLComponents(url: endpoint.url, resolvingAgainstBaseURL: false) else {
            throw S3Error.transport("the endpoint \(endpoint.url) is not a URL", request: "\(method) s3://\(bucket)/\(key)")
        }
        // Bucket-level requests (list, create) name the bucket without a trailing slash, as
        // AWS's own clients do: servers canonicalise "/bucket" and "/bucket/" differently.
        let path = endpoint.pathStyle ? (key.isEmpty ? "/\(bucket)" : "/\(bucket)/\(key)") : "/\(key)"
        let host = endpoint.pathStyle ? (components.host ?? "") : "\(bucket).\(components.host ?? "")"
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        // The URL is written out by hand, encoded exactly as the canonical request has it
        // (URLComponents would leave '/' in query values bare, and the signature would differ).
        var target = SigV4Signer.uriEncode(path, slash: false)
        if !query.isEmpty {
            target += "?" + query.map { "\(SigV4Signer.uriEncode($0.0, slash: true))=\(SigV4Signer.uriEncode($0.1, slash: true))" }.joined(separator: "&")
        }
        let text = "\(components.scheme ?? "https")://\(hostHeader)\(target)"
        guard let url = URL(string: text), !host.isEmpty else { throw S3Error.transport("bad URL \(text)", request: "\(method) \(path)") }
        let payloadHash = SHA256.hash(body).hexString
        var signed = extra
        signed["host"] = hostHeader
        signed["x-amz-content-sha256"] = payloadHash
        let (auth, amzDate) = signer.authorization(method: method, path: path, query: query, headers: signed, payloadHash: payloadHash, date: Date())
        let name = "\(method) s3://\(bucket)/\(key)"
        // The headers sent, whichever client sends them.
        var headers = Array(extra)
        headers += [("x-amz-content-sha256", payloadHash), ("x-amz-date", amzDate), ("Authorization", auth)]
        if let token = signer.credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        let hasBody = !body.isEmpty || method == "PUT" || method == "POST"
        if hasBody {
            // S3 takes a body with its length, never chunked (which FoundationNetworking
            // would otherwise choose).
            headers.append(("Content-Length", String(body.count)))
            // Named, or libcurl labels a POST body a form and servers parse it as one.
            if extra.keys.first(where: { $0.lowercased() == "content-type" }) == nil {
                headers.append(("Content-Type", method == "POST" ? "application/xml" : "application/octet-stream"))
            }
        }
        if let plain {
            let head = "\(method) \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
            do {
                let r = try plain.exchange(head: Array(head.utf8), body: body, isHEAD: method == "HEAD")
                return S3Response(status: r.status, headers: r.headers, body: r.body)
            } catch { throw S3Error.transport("\(error)", request: name) }
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if hasBody { request.httpBody = Data(body) }

        let done = DispatchSemaphore(value: 0)
        let box = Locked<(Data?, HTTPURLResponse?, (any Error)?)>((nil, nil, nil))
        let task = session.dataTask(with: request) { data, response, error in
            box.set((data, response as? HTTPURLResponse, error))
            done.signal()
        }
        task.resume()
        done.wait()
        let (data, response, error) = box.value
        if let error { throw S3Error.transport(error.localizedDescription, request: name) }
        guard let response else { throw S3Error.transport("no response", request: name) }
        var received: [String: String] = [:]
        for (k, v) in response.allHeaderFields { if let k = k as? String, let v = v as? String { received[k.lowercased()] = v } }
        return S3Response(status: response.statusCode, headers: received, body: data.map { [UInt8]($0) } ?? [])
    }

    /// The error a non-2xx response stands for, with S3's own code and message.
    func error(_ r: S3Response, _ method: String, _ bucket: String, _ key: String) -> S3Error {
        let text = String(decoding: r.body, as: UTF8.self)
        return .status(
            code: r.status, awsCode: xmlValue("Code", in: text) ?? "", message: xmlValue("Message", in: text) ?? "",
            request: "\(method) s3://\(bucket)/\(key)")
    }
}

/// The text of the first `<name>…</name>` element, XML entities decoded.
func xmlValue(_ name: String, in text: String) -> String? { xmlValues(name, in: text).first }

/// The texts of every `<name>…</name>` element, in order.
func xmlValues(_ name: String, in text: String) -> [String] {
    var out: [String] = []
    var rest = text[...]
    while let open = rest.range(of: "<\(name)>"), let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) {
        out.append(
            String(rest[open.upperBound..<close.lowerBound]).replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&"))
        rest = rest[close.upperBound...]
    }
    return out
}

extension S3Client {
    /// Creates `bucket` in the endpoint's region (an existing one owned by these credentials is fine).
    public func createBucket(_ bucket: String) throws {
        let body =
            endpoint.region == "us-east-1"
            ? ""
            : "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(endpoint.region)</LocationConstraint></CreateBucketConfiguration>"
        let r = try send("PUT", bucket: bucket, key: "", body: Array(body.utf8))
        if r.status == 409, error(r, "PUT", bucket, "").awsCode == "BucketAlreadyOwnedByYou" { return }
        guard (200..<300).contains(r.status) else { throw error(r, "PUT", bucket, "") }
    }
}
