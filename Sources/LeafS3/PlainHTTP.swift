import Foundation
import LeafConcurrency

#if canImport(Glibc)
    import Glibc
#endif

/// HTTP/1.1 over plain TCP with kept-alive connections, for `http://` endpoints (an
/// S3-compatible server on the same host or network). One request is one `writev` of
/// headers and body and one read loop: FoundationNetworking on Linux moves a body through
/// libcurl in small callbacks and an event loop, which cost as much CPU as the server
/// spent storing the data. `https://` endpoints keep using URLSession (TLS).
final class PlainHTTPPool: Sendable {
    let host: String
    let port: Int
    /// Kept-alive connections, free for the next request.
    private let idle = Locked<[Int32]>([])

    /// How slowly an exchange may go: idle timeout, deadline, minimum rate.
    let pace: TransferPace
    /// The largest response body accepted.
    let maximumBody: Int
    var timeout: TimeInterval { pace.idleTimeout }

    init(host: String, port: Int, pace: TransferPace, maximumBody: Int) {
        self.host = host; self.port = port; self.pace = pace; self.maximumBody = maximumBody
    }

    deinit { for fd in idle.value { close(fd) } }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The connection was closed before any byte of a response came: on a kept-alive
        /// connection, the server had closed it while idle, and the request may go again.
        var closedBeforeResponse = false
        /// The response's body is larger than the largest accepted: a property of the
        /// object asked for, not a passing fault.
        var tooLarge = false
    }

    /// Sends one request and reads its response. `head` is the request line and headers,
    /// ending with the blank line. A connection that fails before any response byte was
    /// read is retried once on a new connection (the server may have closed an idle one).
    func exchange(head: [UInt8], body: [UInt8], isHEAD: Bool, maximumBody: Int) throws -> (status: Int, headers: [String: String], body: [UInt8]) {
        for attempt in 0..<2 {
            let (fd, reused) = try connection()
            let start = Date()
            do {
                try send(fd, head, body, start: start)
                let r = try Self.receive(
                    fd, isHEAD: isHEAD, pace: pace, start: start, sent: head.count + body.count, maximumBody: min(maximumBody, self.maximumBody))
                if r.keepAlive { release(fd) } else { close(fd) }
                return (r.status, r.headers, r.body)
            } catch let e as Failure where reused && attempt == 0 && e.closedBeforeResponse {
                close(fd)  // a kept connection the server had closed: once more on a new one
            } catch {
                close(fd)
                throw error
            }
        }
        throw Failure(description: "connection closed by \(host):\(port)")
    }

    private func connection() throws -> (Int32, Bool) {
        if let fd = idle.withLock({ $0.popLast() }) { return (fd, true) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var ai: UnsafeMutablePointer<addrinfo>? = first
        var last = "no address"
        while let a = ai {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return (fd, false) }
                last = String(cString: strerror(errno))
                close(fd)
            }
            ai = a.pointee.ai_next
        }
        throw Failure(description: "cannot connect to \(host):\(port): \(last)")
    }

    private func release(_ fd: Int32) {
        idle.withLock { $0.append(fd) }
    }

    private func send(_ fd: Int32, _ head: [UInt8], _ body: [UInt8], start: Date) throws {
        var sent = 0
        let total = head.count + body.count
        try head.withUnsafeBytes { h in
            try body.withUnsafeBytes { b in
                while sent < total {
                    var parts: [iovec] = []
                    if sent < h.count, let base = h.baseAddress {
                        parts.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base + sent), iov_len: h.count - sent))
                    }
                    let bodyDone = max(0, sent - h.count)
                    if b.count > bodyDone, let base = b.baseAddress {
                        parts.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base + bodyDone), iov_len: b.count - bodyDone))
                    }
                    let n = writev(fd, parts, Int32(parts.count))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else {
                        let closed = errno == EPIPE || errno == ECONNRESET
                        throw Failure(description: (closed ? "closed: " : "") + "send: \(String(cString: strerror(errno)))", closedBeforeResponse: closed)
                    }
                    sent += n
                    if sent < total, let why = pace.failure(bytes: sent, start: start, now: Date()) { throw Failure(description: why) }
                }
            }
        }
    }

    struct Received { var status: Int; var headers: [String: String]; var body: [UInt8]; var keepAlive: Bool }

    /// Reads one response from `fd`, refusing a body over `maximumBody` bytes and giving up
    /// as `pace` says (a server that trickles a byte now and then never trips an idle
    /// timeout); `sent` bytes of the request count as progress. Static and free of the
    /// pool's state so the fuzzer (Fuzz/) can feed it any bytes through a socket pair.
    static func receive(
        _ fd: Int32, isHEAD: Bool, pace: TransferPace, start: Date = Date(), sent: Int = 0, maximumBody: Int = maximumBodyBytes
    ) throws -> Received {
        let maximumBody = min(maximumBody, maximumBodyBytes)
        var buffer = [UInt8]()
        buffer.reserveCapacity(64 << 10)
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var received = 0
        func tooLarge() -> Failure {
            Failure(description: "response body larger than \(maximumBody) bytes, more than any object leafguard writes", tooLarge: true)
        }
        func fill() throws -> Bool {
            while true {
                let now = Date()
                if let why = pace.failure(bytes: sent + received, start: start, now: now) { throw Failure(description: why) }
                let wait = pace.wait(bytes: sent + received, start: start, now: now)
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, Int32(max(1, min(wait, 3600) * 1000)))
                if ready < 0 && errno == EINTR { continue }
                if ready < 0 { throw Failure(description: "poll: \(String(cString: strerror(errno)))") }
                if ready == 0 {
                    if wait >= pace.idleTimeout { throw Failure(description: "timed out after \(Int(pace.idleTimeout)) s") }
                    continue  // the pace's turn to judge
                }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    throw Failure(description: errno == EAGAIN ? "timed out after \(Int(pace.idleTimeout)) s" : "receive: \(String(cString: strerror(errno)))")
                }
                if n == 0 { return false }
                received += n
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
        }
        // Status line and headers, up to the blank line.
        var headerEnd: Int?
        while headerEnd == nil {
            let before = buffer.count
            guard try fill() else {
                throw Failure(description: before == 0 ? "closed before a response" : "response cut short", closedBeforeResponse: before == 0)
            }
            // Search what arrived first: one read may bring the headers and much of the body.
            let from = max(0, before - 3)
            if buffer.count >= 4 {
                for i in from...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                    headerEnd = i; break
                }
            }
            guard (headerEnd ?? buffer.count) <= Self.maximumHeaderBytes else {
                throw Failure(description: "response headers longer than \(Self.maximumHeaderBytes) bytes")
            }
        }
        guard let headerEnd else { throw Failure(description: "response cut short") }
        let lines = String(decoding: buffer[0..<headerEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), statusParts[1].utf8.count == 3,
            let status = Int(statusParts[1]), (100...599).contains(status)
        else {
            throw Failure(description: "bad status line '\(lines[0].prefix(100))'")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var rest = Array(buffer[(headerEnd + 4)...])
        let keepAlive = headers["connection"]?.lowercased() != "close" && !lines[0].hasPrefix("HTTP/1.0")
        if isHEAD || status == 204 || status == 304 || (100..<200).contains(status) {
            return Received(status: status, headers: headers, body: [], keepAlive: keepAlive)
        }
        if let text = headers["content-length"] {
            guard let length = Self.parseLength(text, radix: 10) else {
                throw Failure(description: "bad Content-Length '\(text.prefix(40))' (a body of at most \(Self.maximumBodyBytes) bytes is accepted)")
            }
            guard length <= maximumBody else { throw tooLarge() }
            buffer = rest
            buffer.reserveCapacity(min(length, 16 << 20))  // a claimed length is not yet bytes received
            while buffer.count < length { guard try fill() else { throw Failure(description: "response body cut short") } }
            return Received(status: status, headers: headers, body: Array(buffer.prefix(length)), keepAlive: keepAlive)
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var body: [UInt8] = []
            buffer = rest
            // Where the unread part of `buffer` starts: consumed bytes are dropped only now
            // and then, so many small chunks cost time linear in the body, not quadratic.
            var at = 0
            while true {
                if at > 1 << 20 && at * 2 > buffer.count {
                    buffer.removeFirst(at)
                    at = 0
                }
                // The chunk-size line: searched in what has arrived before the limit is
                // checked (one read may bring the line and far more than the limit after it),
                // each byte once.
                var found: Int?
                var searched = at
                while found == nil {
                    if buffer.count - at >= 2 {
                        for i in max(at, searched - 1)..<(buffer.count - 1) where buffer[i] == 13 && buffer[i + 1] == 10 { found = i; break }
                    }
                    if found != nil { break }
                    guard buffer.count - at <= Self.maximumHeaderBytes else {
                        throw Failure(description: "chunk-size line longer than \(Self.maximumHeaderBytes) bytes")
                    }
                    searched = buffer.count
                    guard try fill() else { throw Failure(description: "chunked body cut short") }
                }
                guard let lineEnd = found else { throw Failure(description: "chunked body cut short") }
                let sizeText = String(decoding: buffer[at..<lineEnd], as: UTF8.self).split(separator: ";", omittingEmptySubsequences: false).first ?? ""
                guard let size = Self.parseLength(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw Failure(description: "bad chunk size '\(sizeText.prefix(40))'")
                }
                guard body.count + size <= maximumBody else { throw tooLarge() }
                at = lineEnd + 2
                while buffer.count - at < size + 2 { guard try fill() else { throw Failure(description: "chunked body cut short") } }
                if size == 0 { break }
                body.append(contentsOf: buffer[at..<(at + size)])
                at += size + 2
            }
            return Received(status: status, headers: headers, body: body, keepAlive: keepAlive)
        }
        // Neither: the body runs to the end of the connection.
        buffer = rest
        rest = []
        while try fill() {
            guard buffer.count <= maximumBody else { throw tooLarge() }
        }
        return Received(status: status, headers: headers, body: buffer, keepAlive: false)
    }

    /// The largest response header block and body accepted: no S3 reply leafguard asks for
    /// comes near them, and a hostile server cannot make it allocate more.
    static let maximumHeaderBytes = 64 << 10
    static let maximumBodyBytes = 1 << 30

    /// A length of 1 to 16 digits in `radix`, at most `maximumBodyBytes`; nil otherwise (a
    /// sign, a space, an empty text or an overflow is not a length).
    static func parseLength(_ text: String, radix: Int) -> Int? {
        let digits = text.utf8
        guard (1...16).contains(digits.count),
            digits.allSatisfy({ b in
                (b >= 48 && b <= 57) || (radix == 16 && ((b >= 65 && b <= 70) || (b >= 97 && b <= 102)))
            }), let n = Int(text, radix: radix), n <= maximumBodyBytes
        else { return nil }
        return n
    }
}
