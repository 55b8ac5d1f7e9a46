import Foundation
import LeafConcurrency
import LeafDigest

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
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
    /// The response's body is larger than any object leafguard writes: the object asked for
    /// is not one of leafguard's (a planted one), whatever the server.
    case tooLarge(limit: Int, request: String)

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
        case .tooLarge(let limit, let request): return "\(request): the object is larger than \(limit) bytes, more than any object leafguard writes"
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
    /// How requests travel: leafguard's plain HTTP/1.1 client or URLSession, within the pace.
    let transport: AWSTransport
    /// How slowly a request may go before it fails (transiently): seconds without a byte,
    /// seconds in all however steadily a server trickles bytes, and a minimum average rate,
    /// so a hostile or broken server cannot hang a run.
    public var pace: TransferPace { transport.pace }
    /// Seconds a request may wait for its next bytes.
    public var timeout: TimeInterval { pace.idleTimeout }
    /// Seconds a whole request may take.
    public var deadline: TimeInterval { pace.deadline }
    /// The largest response body accepted (a GET of an object planted larger than anything
    /// leafguard writes is refused before it is held in memory).
    public var maximumResponseBytes: Int { transport.maximumResponseBytes }

    /// A client of `endpoint` signing with `credentials`, at most `maxConnections` connections to it.
    public convenience init(
        endpoint: S3Endpoint, credentials: AWSCredentials, maxConnections: Int = 16, timeout: TimeInterval = 60, deadline: TimeInterval = 900,
        maximumResponseBytes: Int = 1 << 30, minimumRate: Double = TransferPace.standard.minimumRate,
        rateGrace: TimeInterval = TransferPace.standard.grace
    ) {
        self.init(
            endpoint: endpoint, credentials: credentials, maxConnections: maxConnections, timeout: timeout, deadline: deadline,
            maximumResponseBytes: maximumResponseBytes, plainHTTP: endpoint.url.scheme == "http" && endpoint.pathStyle,
            minimumRate: minimumRate, rateGrace: rateGrace)
    }

    /// `plainHTTP` chooses the transport: leafguard's own HTTP/1.1 client (http:// and
    /// path-style only) or URLSession (what https:// takes; tests run it over http too).
    init(
        endpoint: S3Endpoint, credentials: AWSCredentials, maxConnections: Int, timeout: TimeInterval, deadline: TimeInterval, maximumResponseBytes: Int,
        plainHTTP: Bool, minimumRate: Double = TransferPace.standard.minimumRate, rateGrace: TimeInterval = TransferPace.standard.grace
    ) {
        self.endpoint = endpoint
        signer = SigV4Signer(credentials: credentials, region: endpoint.region)
        transport = AWSTransport(
            url: endpoint.url, plainHTTP: plainHTTP, maxConnections: maxConnections,
            pace: TransferPace(idleTimeout: timeout, deadline: deadline, minimumRate: minimumRate, grace: rateGrace),
            maximumResponseBytes: maximumResponseBytes)
    }

    /// Sends one request and returns the response, whatever its status: callers decide what
    /// 404 or 412 mean. Throws `S3Error.transport` when no response came.
    func send(
        _ method: String, bucket: String, key: String, query: [(String, String)] = [], headers extra: [String: String] = [:],
        body: [UInt8] = [], maximumResponse: Int? = nil
    ) throws -> S3Response {
        try sendOnce(method, bucket: bucket, key: key, query: query, headers: extra, body: body, maximumResponse: maximumResponse)
    }

    private func sendOnce(
        _ method: String, bucket: String, key: String, query: [(String, String)], headers extra: [String: String],
        body: [UInt8], maximumResponse: Int?
    ) throws -> S3Response {
        // The object's own bound (what its kind can hold), within the client's.
        let limit = min(maximumResponse ?? maximumResponseBytes, maximumResponseBytes)
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
        return try transport.exchange(
            method, scheme: components.scheme ?? "https", hostHeader: hostHeader, target: target, url: url, headers: headers, body: body,
            hasBody: hasBody, limit: limit, name: name)
    }

    /// The error a non-2xx response stands for, with S3's own code and message.
    func error(_ r: S3Response, _ method: String, _ bucket: String, _ key: String) -> S3Error {
        let text = String(decoding: r.body, as: UTF8.self)
        return .status(
            code: r.status, awsCode: Self.printable(xmlValue("Code", in: text) ?? "", limit: 64),
            message: Self.printable(xmlValue("Message", in: text) ?? "", limit: 512), request: "\(method) s3://\(bucket)/\(key)")
    }

    /// The server's words as one line of at most `limit` characters: control characters
    /// (a newline that would start a forged log line, an escape sequence for the terminal)
    /// become spaces. Whoever answers as the endpoint chooses these words.
    static func printable(_ text: String, limit: Int) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(limit) {
            out.append(scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) ? " " : scalar)
        }
        return String(out) + (text.unicodeScalars.count > limit ? "…" : "")
    }
}

/// The text of the first `<name>…</name>` element, XML entities decoded.
func xmlValue(_ name: String, in text: String) -> String? { xmlValues(name, in: text, limit: 1).first }

/// The texts of every `<name>…</name>` element, in order (at most `limit`), XML entities
/// decoded. One pass over the bytes: Foundation's
/// `range(of:)` on the rest of a Substring copied the rest for every element, so a 3 MB
/// listing of 50,000 keys took minutes.
func xmlValues(_ name: String, in text: String, limit: Int = .max) -> [String] {
    let open = Array("<\(name)>".utf8)
    let close = Array("</\(name)>".utf8)
    var text = text
    return text.withUTF8 { bytes -> [String] in
        guard let base = bytes.baseAddress else { return [] }
        var out: [String] = []
        var from = 0
        // The first byte by memchr, then the rest compared: a tag is a few bytes long, so
        // this is linear in the reply.
        func find(_ needle: [UInt8], from: Int) -> Int? {
            var at = from
            while at + needle.count <= bytes.count {
                guard let hit = memchr(base + at, Int32(needle[0]), bytes.count - at) else { return nil }
                let i = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                guard i + needle.count <= bytes.count else { return nil }
                if memcmp(base + i, needle, needle.count) == 0 { return i }
                at = i + 1
            }
            return nil
        }
        while out.count < limit, let start = find(open, from: from), let end = find(close, from: start + open.count) {
            out.append(xmlText(UnsafeBufferPointer(rebasing: bytes[(start + open.count)..<end])))
            from = end + close.count
        }
        return out
    }
}

/// Element text with the five predefined XML entities decoded (anything else kept as is).
private func xmlText(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
    let entities: [(String, UInt8)] = [("&lt;", 60), ("&gt;", 62), ("&quot;", 34), ("&apos;", 39), ("&amp;", 38)]
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    next: while i < bytes.count {
        if bytes[i] == UInt8(ascii: "&") {
            for (name, byte) in entities where i + name.utf8.count <= bytes.count && bytes[i..<(i + name.utf8.count)].elementsEqual(name.utf8) {
                out.append(byte)
                i += name.utf8.count
                continue next
            }
        }
        out.append(bytes[i])
        i += 1
    }
    return String(decoding: out, as: UTF8.self)
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

/// URLSession's delegate for one client's requests: it collects each response's body and
/// cancels a transfer as soon as the body is known to pass `limit` (by its Content-Length,
/// or by what has arrived). URLSession's completion-handler API holds a body of any size in
/// memory, so one object planted larger than memory in one bucket would end every run.
final class BoundedResponses: NSObject, URLSessionDataDelegate, Sendable {
    /// What has arrived for one task.
    struct Transfer: Sendable {
        var status: Int?
        var headers: [String: String] = [:]
        var body = Data()
        var tooLarge = false
        var error: String?
        var limit = Int.max
        let done = DispatchSemaphore(value: 0)
    }

    let limit: Int
    private let transfers = Locked<[Int: Transfer]>([:])

    init(limit: Int) { self.limit = limit }

    /// Registers a task before it starts; the semaphore is signalled when it completes.
    func begin(_ id: Int, limit: Int) -> DispatchSemaphore {
        var t = Transfer()
        t.limit = min(limit, self.limit)
        transfers.withLock { $0[id] = t }
        return t.done
    }

    /// The body bytes that have arrived for a task so far.
    func received(_ id: Int) -> Int { transfers.withLock { $0[id]?.body.count ?? 0 } }

    /// The task's transfer, forgotten.
    func finish(_ id: Int) -> Transfer { transfers.withLock { $0.removeValue(forKey: id) } ?? Transfer(error: "no transfer recorded") }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for (k, v) in http?.allHeaderFields ?? [:] { if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v } }
        let refuse = transfers.withLock {
            let refuse = response.expectedContentLength > Int64($0[dataTask.taskIdentifier]?.limit ?? limit)
            $0[dataTask.taskIdentifier]?.status = http?.statusCode
            $0[dataTask.taskIdentifier]?.headers = headers
            if refuse { $0[dataTask.taskIdentifier]?.tooLarge = true }
            return refuse
        }
        // Allowed, then cancelled: a `.cancel` disposition does not always reach
        // didCompleteWithError in swift-corelibs-foundation.
        completionHandler(.allow)
        if refuse { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = transfers.withLock { (all: inout [Int: Transfer]) -> Bool in
            guard var t = all[dataTask.taskIdentifier], !t.tooLarge else { return false }
            if t.body.count + data.count > t.limit {
                t.tooLarge = true
                t.body = Data()
            } else {
                t.body.append(data)
            }
            all[dataTask.taskIdentifier] = t
            return t.tooLarge
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let done = transfers.withLock { (all: inout [Int: Transfer]) -> DispatchSemaphore? in
            if let error, all[task.taskIdentifier]?.tooLarge == false { all[task.taskIdentifier]?.error = error.localizedDescription }
            return all[task.taskIdentifier]?.done
        }
        done?.signal()
    }
}
