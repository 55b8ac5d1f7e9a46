import Foundation
import LeafConcurrency
import LeafDigest
import LeafStorage

/// An `ObjectStore` on S3: one location is a bucket, or a prefix in a bucket. Objects are
/// written with `If-None-Match: *`, so S3 itself refuses to overwrite one; `replace` is the
/// only write without it. Each request is sent once: a server error, throttling or a lost
/// connection is `StorageError.transient`, for a RetryingStore around it to retry (the
/// Deployment wraps every S3 location so).
public struct S3Store: ObjectStore {
    /// An object service: remote, atomic replace (a PUT), listings of 1,000 names a request.
    public var capabilities: StoreCapabilities { .objectService }
    /// The location's name in messages, e.g. `backup/loc3`.
    public let name: String
    /// The region's client (one connection pool for all its locations).
    public let client: S3Client
    /// The bucket and prefix that hold this location's objects.
    public let location: S3Location
    /// Objects larger than this are uploaded in parts of `partSize` (S3's minimum part is
    /// 5 MiB; a single PUT may carry up to 5 GiB, but a failed part is cheaper to resend).
    public var multipartThreshold = 64 << 20
    /// Bytes in each part of a multipart upload.
    public var partSize = 16 << 20

    /// The location `name` in `location`, spoken to through `client`.
    public init(name: String, client: S3Client, location: S3Location) {
        self.name = name; self.client = client; self.location = location
    }

    private func objectKey(_ key: String) -> String { location.prefix + key }

    private func fail(_ e: any Error, _ key: String) -> StorageError {
        if let s = e as? S3Error, s.awsCode == "NoSuchBucket" {
            return .missingLocation(location: name, reason: "bucket \(location.bucket) does not exist: \(s)")
        }
        if let s = e as? S3Error, case .transport = s { return .transient(location: name, key: key, reason: "\(s)") }
        if let s = e as? S3Error, case .tooLarge = s { return .io(location: name, key: key, reason: "\(s)") }
        return .io(location: name, key: key, reason: "\(e)")
    }

    /// One request; a response worth asking again for (5xx, throttling) is thrown as transient.
    private func request(
        _ method: String, _ key: String, query: [(String, String)] = [], headers: [String: String] = [:],
        body: [UInt8] = [], maximumResponse: Int? = nil
    ) throws -> S3Response {
        let r: S3Response
        do {
            r = try client.send(method, bucket: location.bucket, key: key, query: query, headers: headers, body: body, maximumResponse: maximumResponse)
        } catch {
            throw fail(error, key)
        }
        if r.isTransientFailure {
            throw StorageError.transient(location: name, key: key, reason: "\(client.error(r, method, location.bucket, key))")
        }
        return r
    }

    private func check(_ r: S3Response, _ method: String, _ key: String) throws {
        guard (200..<300).contains(r.status) else { throw fail(client.error(r, method, location.bucket, objectKey(key)), key) }
    }

    /// Writes a new object with `If-None-Match: *` (in parts past `multipartThreshold`); `alreadyExists` if S3 refuses.
    public func put(_ key: String, _ bytes: [UInt8]) throws {
        try validate(key)
        if bytes.count > multipartThreshold { return try putInParts(key, bytes) }
        let r = try request("PUT", objectKey(key), headers: ["if-none-match": "*"].merging(Self.checksumHeaders(bytes)) { a, _ in a }, body: bytes)
        // 412: the object exists (S3's conditional write). 409 ConditionalRequestConflict: a
        // concurrent conditional write to the name is in progress, not done: asked again
        // (then a 412 if it completed, which RetryingStore reads back and compares).
        if r.status == 412 { throw StorageError.alreadyExists(location: name, key: key) }
        if r.status == 409 { throw StorageError.transient(location: name, key: key, reason: "\(client.error(r, "PUT", location.bucket, objectKey(key)))") }
        try check(r, "PUT", key)
    }

    /// Multipart upload: parts sent four at a time, then completed with `If-None-Match: *`
    /// (S3 refuses the completion if the object exists); any failure aborts the upload, so
    /// no parts are left billed and nothing partial is ever visible.
    private func putInParts(_ key: String, _ bytes: [UInt8]) throws {
        let object = objectKey(key)
        let started = try request("POST", object, query: [("uploads", "")])
        try check(started, "POST", key)
        guard let uploadID = xmlValue("UploadId", in: String(decoding: started.body, as: UTF8.self)) else {
            throw StorageError.io(location: name, key: key, reason: "the server started a multipart upload without an UploadId")
        }
        do {
            let count = (bytes.count + partSize - 1) / partSize
            let etags = Locked([String](repeating: "", count: count))
            let firstError = Locked<(any Error)?>(nil)
            let size = partSize
            parallelForEach(min(4, count), width: 4) { w in
                for part in stride(from: w, to: count, by: 4) {
                    let body = Array(bytes[(part * size)..<min(bytes.count, (part + 1) * size)])
                    do {
                        let r = try request("PUT", object, query: [("partNumber", String(part + 1)), ("uploadId", uploadID)], body: body)
                        try check(r, "PUT part \(part + 1) of", key)
                        let tag = r.headers["etag"] ?? ""
                        etags.withLock { $0[part] = tag }
                    } catch { firstError.withLock { $0 = $0 ?? error } }
                }
            }
            if let e = firstError.value { throw e }
            let parts = etags.value.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
            let done = try request(
                "POST", object, query: [("uploadId", uploadID)], headers: ["if-none-match": "*"],
                body: Array("<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>".utf8))
            if done.status == 412 { throw StorageError.alreadyExists(location: name, key: key) }
            if done.status == 409 {
                throw StorageError.transient(location: name, key: key, reason: "\(client.error(done, "POST complete", location.bucket, object))")
            }
            try check(done, "POST complete", key)
            // S3 may answer 200 and still report an error in the body.
            if String(decoding: done.body, as: UTF8.self).contains("<Error>") { throw fail(client.error(done, "POST complete", location.bucket, object), key) }
        } catch {
            _ = try? request("DELETE", object, query: [("uploadId", uploadID)])
            throw error
        }
    }

    /// The object's bytes; `notFound` when the bucket answers 404 for the object.
    public func get(_ key: String, maximumSize: Int) throws -> [UInt8] {
        try validate(key)
        let r = try request("GET", objectKey(key), headers: ["x-amz-checksum-mode": "ENABLED"], maximumResponse: maximumSize)
        if r.status == 404, client.error(r, "GET", location.bucket, key).awsCode != "NoSuchBucket" {
            throw StorageError.notFound(location: name, key: key)
        }
        try check(r, "GET", key)
        // The checksum S3 stored with the object (a whole-object one; a multipart object's is
        // of its parts, written "…-N", and not compared): bytes changed on the way are a
        // transient failure, read again.
        if let stored = r.headers["x-amz-checksum-sha256"], !stored.contains("-"), stored != Self.checksum(r.body) {
            throw StorageError.transient(
                location: name, key: key, reason: "the body's SHA-256 is not the x-amz-checksum-sha256 S3 stored with it: changed on the way")
        }
        return r.body
    }

    /// The object's size from a HEAD; nil when it does not exist (the bucket is asked whether it does).
    public func size(of key: String) throws -> Int? {
        try validate(key)
        let r = try request("HEAD", objectKey(key))
        if r.status == 404 {
            // HEAD has no body to tell a missing object from a missing bucket: ask the bucket.
            try checkBucket()
            return nil
        }
        try check(r, "HEAD", key)
        return r.headers["content-length"].flatMap { Int($0) } ?? 0
    }

    /// Throws `missingLocation` when the bucket does not exist.
    private func checkBucket() throws {
        let r = try request("HEAD", "")
        if r.status == 404 { throw StorageError.missingLocation(location: name, reason: "bucket \(location.bucket) does not exist") }
        try check(r, "HEAD", "")
    }

    /// The most pages one listing reads: ten million names at S3's 1,000 a page, far more
    /// than a region holds. A server that never stops answering "truncated" is refused.
    public static let maximumListPages = 10_000

    /// Every name starting with `prefix`, sorted, page after page of ListObjectsV2. A
    /// continuation token the server gave before, a truncated page without a token, or more
    /// than `maximumListPages` pages is a broken or hostile server: an error, not a loop.
    public func list(prefix: String) throws -> [String] {
        var out: [String] = []
        var token: String?
        var seen = Set<String>()
        var pages = 0
        repeat {
            var query = [("list-type", "2"), ("prefix", objectKey(prefix))]
            if let token { query.append(("continuation-token", token)) }
            let r = try request("GET", "", query: query)
            try check(r, "LIST", prefix)
            pages += 1
            let text = String(decoding: r.body, as: UTF8.self)
            out += xmlValues("Key", in: text).map { String($0.dropFirst(location.prefix.count)) }
            guard xmlValue("IsTruncated", in: text) == "true" else { break }
            guard let next = xmlValue("NextContinuationToken", in: text), !next.isEmpty else {
                throw StorageError.io(location: name, key: prefix, reason: "the listing says it is truncated but gives no continuation token")
            }
            guard seen.insert(next).inserted else {
                throw StorageError.io(
                    location: name, key: prefix, reason: "the server gave continuation token '\(next.prefix(40))' a second time; the listing would never end")
            }
            guard pages < Self.maximumListPages else {
                throw StorageError.io(location: name, key: prefix, reason: "the listing goes on past \(Self.maximumListPages) pages; refused")
            }
            token = next
        } while true
        return out.sorted()
    }

    /// Removes one object; `notFound` if it is missing.
    public func delete(_ key: String) throws {
        try validate(key)
        guard try size(of: key) != nil else { throw StorageError.notFound(location: name, key: key) }
        try check(try request("DELETE", objectKey(key)), "DELETE", key)
    }

    /// Removes each of `keys`, eight requests at a time.
    public func delete(many keys: [String]) throws {
        for key in keys { try validate(key) }
        let firstError = Locked<(any Error)?>(nil)
        parallelForEach(min(8, max(1, keys.count)), width: 8) { w in
            for i in stride(from: w, to: keys.count, by: 8) {
                do { try check(try request("DELETE", objectKey(keys[i])), "DELETE", keys[i]) } catch { firstError.withLock { $0 = $0 ?? error } }
            }
        }
        if let e = firstError.value { throw e }
    }

    /// Replaces an object with a plain PUT (atomic for readers).
    public func replace(_ key: String, _ bytes: [UInt8]) throws {
        try validate(key)
        try check(try request("PUT", objectKey(key), headers: Self.checksumHeaders(bytes), body: bytes), "PUT", key)
    }

    /// The object's SHA-256, base64, as `x-amz-checksum-sha256` carries it: S3 refuses a
    /// body that arrives otherwise, and gives it back on a GET to check what arrived.
    static func checksum(_ bytes: [UInt8]) -> String { Data(SHA256.hash(bytes)).base64EncodedString() }

    /// The headers an SDK sends with a checksum: the value and the algorithm it names (which
    /// S3 Object Lock requires, and moto reads to keep the value).
    static func checksumHeaders(_ bytes: [UInt8]) -> [String: String] {
        ["x-amz-checksum-sha256": checksum(bytes), "x-amz-sdk-checksum-algorithm": "SHA256"]
    }

    /// Whether the stored object is exactly `bytes` (a GET and a comparison).
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool {
        do { return try get(key) == bytes } catch StorageError.notFound { return false }
    }

    /// S3 acknowledges a write once it is durable: nothing to flush.
    public func sync() throws {}
}
