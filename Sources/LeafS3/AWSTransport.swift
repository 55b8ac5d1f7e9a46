import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// How signed AWS requests travel, for every service leafguard speaks (S3, KMS): its own
/// HTTP/1.1 client for plain-http endpoints on loopback or a private network (a quarter of
/// URLSession's CPU), URLSession for https; either way within a `TransferPace` and a bound
/// on the response body, so a hostile or broken server cannot hang a run or fill memory.
final class AWSTransport: Sendable {
    /// How slowly a request may go before it fails.
    let pace: TransferPace
    /// The largest response body accepted.
    let maximumResponseBytes: Int
    let session: URLSession
    /// Plain-HTTP endpoints bypass URLSession (see `PlainHTTPPool`).
    private let plain: PlainHTTPPool?
    /// Collects URLSession's response bodies, within `maximumResponseBytes`.
    private let responses: BoundedResponses

    /// A transport to the server at `url`; `plainHTTP` chooses leafguard's own client.
    init(url: URL, plainHTTP: Bool, maxConnections: Int, pace: TransferPace, maximumResponseBytes: Int) {
        self.pace = pace
        self.maximumResponseBytes = maximumResponseBytes
        if plainHTTP, let host = url.host {
            plain = PlainHTTPPool(host: host, port: url.port ?? 80, pace: pace, maximumBody: maximumResponseBytes)
        } else {
            plain = nil
        }
        let config = URLSessionConfiguration.ephemeral
        config.httpMaximumConnectionsPerHost = maxConnections
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.timeoutIntervalForRequest = pace.idleTimeout
        config.timeoutIntervalForResource = pace.deadline
        responses = BoundedResponses(limit: maximumResponseBytes)
        session = URLSession(configuration: config, delegate: responses, delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    /// Sends one request (`target` is the path and query as signed; `headers` already hold
    /// the signature) and returns the response, whatever its status. Throws
    /// `S3Error.transport` when no response came, `S3Error.tooLarge` past `limit`.
    func exchange(
        _ method: String, scheme: String, hostHeader: String, target: String, url: URL, headers: [(String, String)], body: [UInt8],
        hasBody: Bool, limit: Int, name: String
    ) throws -> S3Response {
        if let plain {
            let head = "\(method) \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
            do {
                let r = try plain.exchange(head: Array(head.utf8), body: body, isHEAD: method == "HEAD", maximumBody: limit)
                return S3Response(status: r.status, headers: r.headers, body: r.body)
            } catch let e as PlainHTTPPool.Failure where e.tooLarge {
                throw S3Error.tooLarge(limit: limit, request: name)
            } catch { throw S3Error.transport("\(error)", request: name) }
        }
        var request = URLRequest(url: url, timeoutInterval: pace.idleTimeout)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if hasBody { request.httpBody = Data(body) }

        let task = session.dataTask(with: request)
        let done = responses.begin(task.taskIdentifier, limit: limit)
        let start = Date()
        task.resume()
        // URLSession enforces the idle timeout and the deadline itself; the pace (deadline
        // and minimum rate) is judged here too, so that neither a trickle nor a transfer
        // Foundation never completes can hang the run.
        while true {
            let received = body.count + responses.received(task.taskIdentifier)
            let now = Date()
            if let why = pace.failure(bytes: received, start: start, now: now) {
                task.cancel()
                _ = responses.finish(task.taskIdentifier)
                throw S3Error.transport(why, request: name)
            }
            let wait = max(0.05, pace.wait(bytes: received, start: start, now: now))
            if done.wait(timeout: .now() + min(wait, 1)) == .success { break }
        }
        let transfer = responses.finish(task.taskIdentifier)
        if transfer.tooLarge { throw S3Error.tooLarge(limit: limit, request: name) }
        if let error = transfer.error { throw S3Error.transport(error, request: name) }
        guard let status = transfer.status else { throw S3Error.transport("no response", request: name) }
        return S3Response(status: status, headers: transfer.headers, body: [UInt8](transfer.body))
    }
}
